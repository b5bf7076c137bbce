package fsops

import (
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	for _, tt := range []struct {
		line, mnt, typ string
		ok             bool
	}{
		{"36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue", "/mnt/parent", "ext3", true},
		{"51 30 0:45 / /tmp/x/c1 rw,nosuid,nodev,relatime shared:30 - fuse.sshfs root@127.0.0.1:/export rw,user_id=0", "/tmp/x/c1", "fuse.sshfs", true},
		{`52 30 0:46 / /mnt/with\040space rw - nfs4 srv:/e rw`, "/mnt/with space", "nfs4", true},
		{"53 30 0:47 / /mnt/no-optional rw - tmpfs tmpfs rw", "/mnt/no-optional", "tmpfs", true},
		{"garbage", "", "", false},
		{"1 2 3 - ext4", "", "", false},
	} {
		mnt, typ, ok := parseMountinfo(tt.line)
		if mnt != tt.mnt || typ != tt.typ || ok != tt.ok {
			t.Errorf("parseMountinfo(%q) = %q, %q, %v; want %q, %q, %v", tt.line, mnt, typ, ok, tt.mnt, tt.typ, tt.ok)
		}
	}
}

func TestFSType(t *testing.T) {
	typ, err := osFS{}.FSType(t.TempDir())
	if err != nil || typ == "" {
		t.Fatalf("FSType(TempDir) = %q, %v; want a type", typ, err)
	}
	if typ, err := (osFS{}).FSType("/proc/self"); err != nil || typ != "proc" {
		t.Errorf("FSType(/proc/self) = %q, %v; want proc", typ, err)
	}
	t.Logf("TempDir: %s", typ)
}
