package keyseal

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Source says where ReadPassword reads the CA password. Exactly one of File,
// Env and Prompt must be set.
type Source struct {
	// File is a file holding the password and one optional trailing
	// newline. It must not be accessible to group or others (chmod 600).
	File string
	// Env is an environment variable holding the password. ReadPassword
	// unsets it, so child processes do not inherit it; the process's
	// initial environment (/proc/<pid>/environ) still shows it to its own
	// user and root, which is why File is the better choice in production.
	Env string
	// Prompt reads one line from In, without echo when In is a terminal.
	Prompt bool
	In     io.Reader // os.Stdin if nil
	Out    io.Writer // where a terminal prompt is written; os.Stderr if nil
}

// maxPasswordLen bounds what ReadPassword reads, so a mistaken path (a log
// file, /dev/zero) fails fast instead of filling memory.
const maxPasswordLen = 4096

const promptText = "CA password: "

// ReadPassword reads the CA password from the one source src names. The
// caller owns the result and should zero it once the KEK is derived. Errors
// name the source but never include the password.
func ReadPassword(src Source) ([]byte, error) {
	n := 0
	for _, set := range []bool{src.File != "", src.Env != "", src.Prompt} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("keyseal: %d password sources set; set exactly one: a file, an environment variable or a prompt", n)
	}
	var (
		pw   []byte
		from string
		err  error
	)
	switch {
	case src.File != "":
		from = "file " + src.File
		pw, err = readPasswordFile(src.File)
	case src.Env != "":
		from = "environment variable " + src.Env
		pw, err = readPasswordEnv(src.Env)
	default:
		from = "prompt"
		pw, err = readPasswordPrompt(src.In, src.Out)
	}
	if err != nil {
		return nil, fmt.Errorf("keyseal: password from %s: %w", from, err)
	}
	if len(pw) == 0 {
		return nil, fmt.Errorf("keyseal: password from %s is empty", from)
	}
	return pw, nil
}

func readPasswordFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Stat the open file, not the path, so the mode checked is the mode
	// of the file read.
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("mode %04o lets group or others access it; run chmod 600 %s", perm, path)
	}
	// One fixed buffer, so no copies of the password are left behind by
	// a growing slice. Room for the longest password and "\r\n".
	buf := make([]byte, maxPasswordLen+2+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return checkLength(trimNewline(buf[:n]))
}

func readPasswordEnv(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, errors.New("not set")
	}
	if err := os.Unsetenv(name); err != nil {
		return nil, fmt.Errorf("unset: %w", err)
	}
	return checkLength([]byte(v))
}

func readPasswordPrompt(in io.Reader, out io.Writer) ([]byte, error) {
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stderr
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(out, promptText)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(out) // the user's Enter was not echoed
		if err != nil {
			return nil, err
		}
		return checkLength(pw)
	}
	return readLine(in)
}

// readLine reads up to the first newline, one byte at a time so nothing
// after the line is consumed from in (it may be stdin, read again later).
func readLine(in io.Reader) ([]byte, error) {
	buf := make([]byte, 0, maxPasswordLen+2)
	var b [1]byte
	for len(buf) < cap(buf) {
		n, err := in.Read(b[:])
		if n == 1 {
			buf = append(buf, b[0])
			if b[0] == '\n' {
				return checkLength(trimNewline(buf))
			}
		}
		if errors.Is(err, io.EOF) {
			return checkLength(buf)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("longer than %d bytes", maxPasswordLen)
}

// trimNewline removes one trailing "\n" or "\r\n".
func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

func checkLength(pw []byte) ([]byte, error) {
	if len(pw) > maxPasswordLen {
		clear(pw)
		return nil, fmt.Errorf("longer than %d bytes", maxPasswordLen)
	}
	return pw, nil
}
