package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/lucid-edge/lucid/internal/passhash"
)

// maxPassword bounds what hash-password reads.
const maxPassword = 1024

// runHashPassword is `edge hash-password`: it reads a password from
// standard input and prints its Argon2id hash for a user's password_hash.
// From a terminal the password is typed twice without echo; otherwise it
// is the one line of input. It never takes the password as an argument,
// where ps and the shell's history would see it.
func runHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return errors.New("hash-password takes no arguments: give the password on standard input, never on the command line (ps and shell history see it)")
	}
	var pw []byte
	var err error
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err = typedPassword(int(f.Fd()), stderr)
	} else {
		pw, err = linePassword(stdin)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, passhash.Argon2id(string(pw)))
	return err
}

func typedPassword(fd int, prompt io.Writer) ([]byte, error) {
	fmt.Fprint(prompt, "password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	fmt.Fprint(prompt, "again: ")
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("the two passwords differ")
	}
	return checkPassword(pw)
}

// linePassword reads the one line of r, without its line ending.
func linePassword(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(bufio.NewReader(r), maxPassword+3))
	if err != nil {
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if bytes.ContainsAny(b, "\r\n") {
		return nil, errors.New("standard input holds more than one line: give one password")
	}
	return checkPassword(b)
}

func checkPassword(pw []byte) ([]byte, error) {
	switch {
	case len(pw) == 0:
		return nil, errors.New("the password is empty")
	case len(pw) > maxPassword:
		return nil, fmt.Errorf("the password is longer than %d bytes", maxPassword)
	}
	return pw, nil
}
