package engine

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// resolveListenAddr turns port 0 into a concrete free port: with
// SO_REUSEPORT every loop binds its own listener, and each would otherwise
// get a different port.
func resolveListenAddr(addr string) (string, bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, fmt.Errorf("engine: listen address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, true, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", false, fmt.Errorf("engine: listen address %q: %w", addr, err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return net.JoinHostPort(host, strconv.Itoa(p)), true, nil
}

// boundAddr reads the address the engine's listener is bound to.
func boundAddr(eng gnet.Engine) (string, error) {
	fd, err := eng.Dup()
	if err != nil {
		return "", fmt.Errorf("engine: reading the listener address: %w", err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return "", fmt.Errorf("engine: reading the listener address: %w", err)
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port)), nil
	}
	return "", errors.New("engine: listener is not TCP")
}
