package algorithm_test

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

// tokenProtocols runs f for each protocol, with a fresh env and a maker
// of locks on path.
func tokenProtocols(t *testing.T, f func(t *testing.T, e *env, mk func() proto.Lock)) {
	for _, p := range []string{"flufl", "strict"} {
		t.Run(p, func(t *testing.T) {
			e := newEnv(t)
			mk := func() proto.Lock {
				if p == "strict" {
					return e.strict("h", 10*time.Second)
				}
				return e.lock("h", 10*time.Second)
			}
			f(t, e, mk)
		})
	}
}

func tokenFile(n uint64) string { return dir + "/" + proto.TokenName("a.lock", n) }

// tokenFiles lists the counter files of the lock.
func (e *env) tokenFiles() []string {
	var out []string
	for _, n := range e.files() {
		if _, ok := proto.ParseTokenName(n, "a.lock"); ok {
			out = append(out, n)
		}
	}
	return out
}

func mustMint(t *testing.T, e *env, lk proto.Lock) uint64 {
	t.Helper()
	tok, err := lk.Mint(e.now())
	if err != nil {
		t.Fatalf("Mint = %v", err)
	}
	return tok
}

func TestMintFirstAndSuccessive(t *testing.T) {
	tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
		var got []uint64
		for range 3 {
			lk := mk()
			e.mustAcquire(lk)
			got = append(got, mustMint(t, e, lk))
			if err := lk.Release(inTime); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got, []uint64{1, 2, 3}) {
			t.Errorf("tokens = %v, want [1 2 3]", got)
		}
		if names := e.files(); !slices.Equal(names, []string{".a.lock.token.3"}) {
			t.Errorf("after release: %q, want only the counter .a.lock.token.3", names)
		}
	})
}

// TestMintHints: with Hints, a mint after our own last one
// renames the counter at once, with no listing; a hint made stale by
// another process's mint costs one failed rename and one listing, and
// still yields the next token.
func TestMintHints(t *testing.T) {
	tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
		e.hints = new(proto.Hints)
		cycle := func() (tok uint64, listings int) {
			t.Helper()
			lk := mk()
			e.mustAcquire(lk)
			e.inject = func(op fsopstest.Op) *fsopstest.Fault {
				if op.Name == "ReadDir" {
					listings++
				}
				return nil
			}
			tok = mustMint(t, e, lk)
			e.inject = nil
			if err := lk.Release(inTime); err != nil {
				t.Fatal(err)
			}
			return tok, listings
		}
		for _, tt := range []struct {
			name         string
			before       func()
			tok          uint64
			wantListings int
		}{
			{"first mint: no hint; it lists again after creating the counter", nil, 1, 2},
			{"our own last value", nil, 2, 0},
			{"stale hint: another process minted 3", func() {
				if err := e.mem.Rename(tokenFile(2), tokenFile(3)); err != nil {
					t.Fatal(err)
				}
			}, 4, 1},
			{"hint fresh again", nil, 5, 0},
		} {
			if tt.before != nil {
				tt.before()
			}
			tok, listings := cycle()
			if tok != tt.tok || listings != tt.wantListings {
				t.Errorf("%s: token %d after %d listings, want %d after %d", tt.name, tok, listings, tt.tok, tt.wantListings)
			}
		}
		if got := e.tokenFiles(); !slices.Equal(got, []string{".a.lock.token.5"}) {
			t.Errorf("counter files %q, want .a.lock.token.5", got)
		}
	})
}

func TestMintNotHeld(t *testing.T) {
	tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
		if _, err := mk().Mint(e.now()); !errors.Is(err, algorithm.ErrNotHeld) {
			t.Errorf("Mint before acquiring = %v, want ErrNotHeld", err)
		}
		if len(e.tokenFiles()) != 0 {
			t.Errorf("counter made by a Mint that was not held: %q", e.files())
		}
	})
}

// TestMintAfterLoss: the lock is removed (broken) before the mint; the
// mint happens but its token is not handed out.
func TestMintAfterLoss(t *testing.T) {
	tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
		lk := mk()
		e.mustAcquire(lk)
		if err := e.mem.Remove(path); err != nil { // Flufl: the lock file
			if err := e.mem.Remove(path + "/owner"); err != nil { // Strict: the owner record
				t.Fatal(err)
			}
		}
		if tok, err := lk.Mint(e.now()); !errors.Is(err, algorithm.ErrNotHeld) {
			t.Errorf("Mint after loss = %d, %v; want ErrNotHeld", tok, err)
		}
		if _, err := lk.Mint(e.now()); !errors.Is(err, algorithm.ErrNotHeld) {
			t.Errorf("second Mint after loss = %v; want ErrNotHeld", err)
		}
	})
}

// TestMintRace: another minter renames the counter between our listing
// and our rename. Exactly one of us gets each value.
func TestMintRace(t *testing.T) {
	tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
		lk := mk()
		e.mustAcquire(lk)
		if _, err := e.mem.CreateExcl(tokenFile(4), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		e.inject = once("Rename", tokenFile(4), func(op fsopstest.Op) *fsopstest.Fault {
			// The other minter wins 4 → 5; ours then fails with ENOENT.
			if err := e.mem.Rename(tokenFile(4), tokenFile(5)); err != nil {
				t.Fatal(err)
			}
			return nil
		})
		if tok := mustMint(t, e, lk); tok != 6 {
			t.Errorf("token = %d, want 6 (the other minter got 5)", tok)
		}
		if got := e.tokenFiles(); !slices.Equal(got, []string{".a.lock.token.6"}) {
			t.Errorf("counter files %q, want .a.lock.token.6", got)
		}
	})
}

// TestMintAmbiguous: a rename that fails may have been applied; the mint
// lists again and mints a fresh token, never adopting the ambiguous one.
func TestMintAmbiguous(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault fsopstest.Fault
		want  uint64
	}{
		{"EIO before the server", fsopstest.Fault{Err: syscall.EIO}, 2},
		{"EIO after the server applied it", fsopstest.Fault{Err: syscall.EIO, After: true}, 3},
		{"ENOENT of a replay after it was applied", fsopstest.Fault{Err: syscall.ENOENT, After: true}, 3},
		{"ESTALE after the server applied it", fsopstest.Fault{Err: syscall.ESTALE, After: true}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
				lk := mk()
				e.mustAcquire(lk)
				if _, err := e.mem.CreateExcl(tokenFile(1), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				e.inject = once("Rename", tokenFile(1), func(fsopstest.Op) *fsopstest.Fault { f := tt.fault; return &f })
				if tok := mustMint(t, e, lk); tok != tt.want {
					t.Errorf("token = %d, want %d", tok, tt.want)
				}
				if got := e.tokenFiles(); len(got) != 1 {
					t.Errorf("counter files %q, want one", got)
				}
			})
		})
	}
}

// TestMintCreateRace: the counter's first name is created by someone else
// between our listing and our create.
func TestMintCreateRace(t *testing.T) {
	tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
		lk := mk()
		e.mustAcquire(lk)
		e.inject = once("CreateExcl", tokenFile(0), func(fsopstest.Op) *fsopstest.Fault {
			if _, err := e.mem.CreateExcl(tokenFile(0), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return nil // ours fails with EEXIST
		})
		if tok := mustMint(t, e, lk); tok != 1 {
			t.Errorf("token = %d, want 1", tok)
		}
	})
}

// TestMintLitter: counter files below ours (a replayed create, a stale
// listing) are removed after a mint; one above ours, which appeared after
// our listing, is never removed.
func TestMintLitter(t *testing.T) {
	tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
		lk := mk()
		e.mustAcquire(lk)
		for _, n := range []uint64{0, 2, 5} {
			if _, err := e.mem.CreateExcl(tokenFile(n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		e.inject = once("Rename", tokenFile(5), func(fsopstest.Op) *fsopstest.Fault {
			if _, err := e.mem.CreateExcl(tokenFile(9), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return nil
		})
		if tok := mustMint(t, e, lk); tok != 6 {
			t.Errorf("token = %d, want 6", tok)
		}
		if got := e.tokenFiles(); !slices.Equal(got, []string{".a.lock.token.6", ".a.lock.token.9"}) {
			t.Errorf("counter files %q, want .a.lock.token.6 and the higher .a.lock.token.9 kept", got)
		}
	})
}

// TestMintBounded: a rename that always fails transiently, or always
// loses the race to another minter (ENOENT), gives up after a bounded
// number of tries with a transient error: the acquisition tries again
// rather than failing.
func TestMintBounded(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOENT} {
		t.Run(errno.Error(), func(t *testing.T) {
			tokenProtocols(t, func(t *testing.T, e *env, mk func() proto.Lock) {
				lk := mk()
				e.mustAcquire(lk)
				renames := 0
				e.inject = func(op fsopstest.Op) *fsopstest.Fault {
					if op.Name == "Rename" && strings.Contains(op.Path, ".token.") {
						renames++
						return &fsopstest.Fault{Err: errno}
					}
					return nil
				}
				_, err := lk.Mint(e.now())
				if err == nil || !proto.Transient(err) {
					t.Errorf("Mint = %v, want a transient error", err)
				}
				if renames == 0 || renames > 16 {
					t.Errorf("%d renames, want between 1 and 16", renames)
				}
				e.inject = nil
				if tok := mustMint(t, e, lk); tok != 1 {
					t.Errorf("token after the faults = %d, want 1", tok)
				}
			})
		})
	}
}

func TestParseTokenName(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    uint64
		ok   bool
	}{
		{".a.lock.token.0", 0, true},
		{".a.lock.token.17", 17, true},
		{".a.lock.token.18446744073709551615", 1<<64 - 1, true},
		{".a.lock.token.18446744073709551616", 0, false},
		{".a.lock.token.017", 0, false},
		{".a.lock.token.", 0, false},
		{".a.lock.token.+1", 0, false},
		{".a.lock.token.1x", 0, false},
		{"a.lock.token.1", 0, false},
		{".b.lock.token.1", 0, false},
		{".a.lock.stage.1", 0, false},
	} {
		n, ok := proto.ParseTokenName(tt.name, "a.lock")
		if n != tt.n || ok != tt.ok {
			t.Errorf("ParseTokenName(%q) = %d, %v; want %d, %v", tt.name, n, ok, tt.n, tt.ok)
		}
		if ok {
			if back := proto.TokenName("a.lock", n); back != tt.name {
				t.Errorf("TokenName(%d) = %q, want %q", n, back, tt.name)
			}
		}
	}
}
