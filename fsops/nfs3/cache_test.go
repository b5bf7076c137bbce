package nfs3

import (
	"testing"
	"time"
)

func TestCacheNames(t *testing.T) {
	c := newCache(cacheConfig{regMin: time.Hour, regMax: time.Hour, dirMin: time.Hour, dirMax: time.Hour, lookups: true})
	dir, file := []byte("dir"), []byte("file")
	a := fattr{typ: nf3Dir, mtime: nfstime{1, 0}, ctime: nfstime{1, 0}}
	c.update(dir, &a, nil)
	c.setName(dir, "x", file)
	c.setName(dir, "gone", nil)
	lookup := func(name string) (dentry, bool) {
		ver, ok := c.version(dir)
		if !ok {
			t.Fatal("directory attributes not fresh")
		}
		return c.name(dir, name, ver)
	}
	if d, ok := lookup("x"); !ok || string(d.fh) != "file" {
		t.Fatalf("x = %v, %v", d, ok)
	}
	if d, ok := lookup("gone"); !ok || d.fh != nil {
		t.Fatalf("negative entry = %v, %v", d, ok)
	}

	// Our own change (the pre-operation attributes match): names stay.
	b := a
	b.mtime, b.ctime = nfstime{2, 0}, nfstime{2, 0}
	c.update(dir, &b, &wcc{pre: true, mtime: a.mtime, ctime: a.ctime, post: &b})
	if _, ok := lookup("x"); !ok {
		t.Fatal("own change dropped the names")
	}
	// Unchanged attributes: names stay.
	c.update(dir, &b, nil)
	if _, ok := lookup("x"); !ok {
		t.Fatal("unchanged attributes dropped the names")
	}
	// Someone else's change: every name is looked up again.
	d := b
	d.mtime = nfstime{3, 0}
	c.update(dir, &d, nil)
	if _, ok := lookup("x"); ok {
		t.Fatal("a foreign change kept the names")
	}
	if _, ok := lookup("gone"); ok {
		t.Fatal("a foreign change kept a negative name")
	}
	// A change whose pre-operation attributes do not match ours: also
	// foreign (someone changed the directory before our call).
	c.setName(dir, "y", file)
	e := d
	e.mtime = nfstime{5, 0}
	c.update(dir, &e, &wcc{pre: true, mtime: nfstime{4, 0}, ctime: d.ctime, post: &e})
	if _, ok := lookup("y"); ok {
		t.Fatal("a change after someone else's kept the names")
	}
}

func TestCacheTimes(t *testing.T) {
	c := newCache(cacheConfig{regMin: time.Hour, regMax: 4 * time.Hour, lookups: true})
	fh := []byte("f")
	a := fattr{typ: nf3Reg, mtime: nfstime{1, 0}}
	c.update(fh, &a, nil)
	if e := c.attrs["f"]; e.ttl != time.Hour {
		t.Fatalf("first ttl %v, want acregmin", e.ttl)
	}
	for _, want := range []time.Duration{2 * time.Hour, 4 * time.Hour, 4 * time.Hour} {
		c.update(fh, &a, nil)
		if e := c.attrs["f"]; e.ttl != want {
			t.Fatalf("ttl %v after an unchanged update, want %v", e.ttl, want)
		}
	}
	b := a
	b.size = 9
	c.update(fh, &b, nil)
	if e := c.attrs["f"]; e.ttl != time.Hour {
		t.Fatalf("ttl %v after a change, want acregmin", e.ttl)
	}
	// noac: nothing is ever fresh, and no names are kept.
	n := newCache(cacheConfig{})
	n.update(fh, &a, nil)
	if _, ok := n.fresh(fh); ok {
		t.Error("noac: attributes fresh")
	}
	n.setName(fh, "x", fh)
	if _, ok := n.name(fh, "x", 1); ok {
		t.Error("lookupcache=none: a name was kept")
	}
}
