package keyseal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Chmod explicitly: WriteFile's mode is filtered by the umask.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadPasswordFile(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"trailing newline", "s3cret\n", "s3cret"},
		{"trailing CRLF", "s3cret\r\n", "s3cret"},
		{"no newline", "s3cret", "s3cret"},
		{"only one newline trimmed", "s3cret\n\n", "s3cret\n"},
		{"spaces kept", " s3 cret \n", " s3 cret "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPassword(Source{File: writeFile(t, tt.content, 0o600)})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("mode 0400", func(t *testing.T) {
		if _, err := ReadPassword(Source{File: writeFile(t, "s3cret", 0o400)}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestReadPasswordFileRefused(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string
	}{
		{"world readable", "s3cret\n", 0o644, "chmod 600"},
		{"group readable", "s3cret\n", 0o640, "chmod 600"},
		{"group writable", "s3cret\n", 0o620, "chmod 600"},
		{"empty", "", 0o600, "empty"},
		{"only a newline", "\n", 0o600, "empty"},
		{"too long", strings.Repeat("x", maxPasswordLen+1), 0o600, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content, tt.mode)
			_, err := ReadPassword(Source{File: path})
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not say %q", err, tt.wantErr)
			}
			if pw := strings.TrimSpace(tt.content); pw != "" && strings.Contains(err.Error(), pw) {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}
	if _, err := ReadPassword(Source{File: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("missing file accepted")
	}
}

func TestReadPasswordEnv(t *testing.T) {
	const name = "LUCID_KEYSEAL_TEST_PASSWORD"
	t.Setenv(name, "s3cret")
	got, err := ReadPassword(Source{Env: name})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "s3cret" {
		t.Fatalf("got %q", got)
	}
	if _, ok := os.LookupEnv(name); ok {
		t.Fatal("the variable is still set; child processes would inherit it")
	}
	if _, err := ReadPassword(Source{Env: name}); err == nil || !strings.Contains(err.Error(), "not set") {
		t.Fatalf("unset variable: err = %v, want 'not set'", err)
	}
	t.Setenv(name, "")
	if _, err := ReadPassword(Source{Env: name}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty variable: err = %v, want 'empty'", err)
	}
	if _, ok := os.LookupEnv(name); ok {
		t.Fatal("an empty variable was left set")
	}
}

func TestReadPasswordPromptNotTerminal(t *testing.T) {
	in := strings.NewReader("hunter2\nnext line\n")
	var out strings.Builder
	got, err := ReadPassword(Source{Prompt: true, In: in, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hunter2" {
		t.Fatalf("got %q, want hunter2", got)
	}
	if rest := in.Len(); rest != len("next line\n") {
		t.Errorf("read past the first line: %d bytes left, want %d", rest, len("next line\n"))
	}
	if out.Len() != 0 {
		t.Errorf("wrote a prompt to a non-terminal: %q", out.String())
	}

	tests := []struct {
		name, in, want, wantErr string
	}{
		{"CRLF", "hunter2\r\n", "hunter2", ""},
		{"EOF without newline", "hunter2", "hunter2", ""},
		{"empty line", "\nhunter2\n", "", "empty"},
		{"no input", "", "", "empty"},
		{"too long", strings.Repeat("x", maxPasswordLen+1) + "\n", "", "longer than"},
		{"too long without newline", strings.Repeat("x", 2*maxPasswordLen), "", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPassword(Source{Prompt: true, In: strings.NewReader(tt.in)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestReadPasswordExactlyOneSource(t *testing.T) {
	const name = "LUCID_KEYSEAL_TEST_PASSWORD"
	t.Setenv(name, "s3cret")
	file := writeFile(t, "s3cret", 0o600)
	in := strings.NewReader("s3cret\n")
	tests := []struct {
		name string
		src  Source
	}{
		{"none", Source{}},
		{"In alone is not a prompt", Source{In: in}},
		{"file and env", Source{File: file, Env: name}},
		{"env and prompt", Source{Env: name, Prompt: true, In: in}},
		{"file and prompt", Source{File: file, Prompt: true, In: in}},
		{"all three", Source{File: file, Env: name, Prompt: true, In: in}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadPassword(tt.src)
			if err == nil || !strings.Contains(err.Error(), "exactly one") {
				t.Fatalf("err = %v, want 'exactly one'", err)
			}
		})
	}
	if _, ok := os.LookupEnv(name); !ok {
		t.Error("a refused Source still unset the variable")
	}
}
