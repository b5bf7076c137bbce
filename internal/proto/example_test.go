package proto_test

import (
	"fmt"

	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

// The fencing-token counter of a lock is one file whose name carries its
// value.
func ExampleTokenName() {
	name := proto.TokenName("nightly.lock", 41)
	fmt.Println(name)
	n, ok := proto.ParseTokenName(name, "nightly.lock")
	fmt.Println(n, ok)
	_, ok = proto.ParseTokenName(".nightly.lock.token.041", "nightly.lock")
	fmt.Println(ok)
	// Output:
	// .nightly.lock.token.41
	// 41 true
	// false
}

func ExampleParseTokenName() {
	for _, name := range []string{".a.lock.token.7", ".a.lock.token.-7", ".b.lock.token.7", "a.lock"} {
		n, ok := proto.ParseTokenName(name, "a.lock")
		fmt.Println(name, n, ok)
	}
	// Output:
	// .a.lock.token.7 7 true
	// .a.lock.token.-7 0 false
	// .b.lock.token.7 0 false
	// a.lock 0 false
}

// CurrentToken reads the counter without changing anything.
func ExampleCurrentToken() {
	mem := fsopstest.NewMem(nil)
	mem.MkdirAll("/locks", 0o755)
	_, ok, err := proto.CurrentToken(mem, "/locks/", "a.lock")
	fmt.Println(ok, err)
	mem.WriteFile("/locks/"+proto.TokenName("a.lock", 12), nil, 0o644)
	n, ok, err := proto.CurrentToken(mem, "/locks/", "a.lock")
	fmt.Println(n, ok, err)
	// Output:
	// false <nil>
	// 12 true <nil>
}

// Host names are recorded with characters that could not appear in a file
// name, or that are the claim separator, replaced.
func ExampleRecordedHost() {
	fmt.Println(proto.RecordedHost("build-7.example.com"))
	fmt.Println(proto.RecordedHost("odd|host/name"))
	fmt.Println(proto.RecordedHost(""))
	// Output:
	// build-7.example.com
	// odd_host_name
	// localhost
}
