package proxy

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// waitReadable returns once c has bytes to read, its peer closed or reset
// it, or c itself was closed, without reading anything and without a
// buffer: an idle link waits here instead of inside a Read with its
// buffer and its decryption's stack depth (link.go). A connection that is
// not a socket returns at once, and the caller's Read does the waiting.
func waitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var peek [1]byte
	woken := false
	return rc.Read(func(fd uintptr) bool {
		// Called again once the netpoller reports the socket readable:
		// take its word rather than spend a second system call to check
		// (a rare spurious wake-up only means the caller's Read waits).
		if woken {
			return true
		}
		woken = true
		// MSG_PEEK leaves the byte for the real read; EAGAIN parks this
		// goroutine on the netpoller until the socket is readable.
		for {
			_, _, err := unix.Recvfrom(int(fd), peek[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if !errors.Is(err, unix.EINTR) {
				return !errors.Is(err, unix.EAGAIN)
			}
		}
	})
}
