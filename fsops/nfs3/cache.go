package nfs3

import (
	"sync"
	"time"
)

// The client's caches, modelled on the Linux client's:
//
//   - attributes per file handle, fresh for a time between acregmin and
//     acregmax (acdirmin and acdirmax for directories): the time starts at
//     the minimum after a change is seen and doubles, up to the maximum,
//     each time the attributes come back unchanged;
//   - names per directory (the dentry cache), positive and negative,
//     valid while the directory's attributes show no change this client
//     did not make itself: each directory's entry carries a version, bumped
//     when its attributes change unexpectedly, and a name is trusted only
//     under the version it was looked up in. The directory's attributes are
//     revalidated first when they are no longer fresh.
//
// Close-to-open consistency is the caller's: opening a file fetches its
// attributes afresh.

type attrEntry struct {
	a       fattr
	fetched time.Time
	ttl     time.Duration
	ver     uint64
}

type dkey struct {
	dir  string
	name string
}

type dentry struct {
	fh  []byte // nil: the name does not exist (a negative entry)
	ver uint64 // the directory's version when looked up
}

type cacheConfig struct {
	regMin, regMax, dirMin, dirMax time.Duration
	lookups                        bool // the name cache is on
}

// maxEntries bounds each map; past it the map is emptied, which only costs
// lookups.
const maxEntries = 1 << 14

type cache struct {
	cfg   cacheConfig
	mu    sync.Mutex
	attrs map[string]*attrEntry
	dents map[dkey]dentry
	ver   uint64
}

func newCache(cfg cacheConfig) *cache {
	return &cache{cfg: cfg, attrs: make(map[string]*attrEntry), dents: make(map[dkey]dentry)}
}

func (c *cache) bounds(a *fattr) (lo, hi time.Duration) {
	if a.typ == nf3Dir {
		return c.cfg.dirMin, c.cfg.dirMax
	}
	return c.cfg.regMin, c.cfg.regMax
}

// fresh returns the cached attributes of fh if they are still fresh.
func (c *cache) fresh(fh []byte) (fattr, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.attrs[string(fh)]
	if e == nil || time.Since(e.fetched) >= e.ttl {
		return fattr{}, false
	}
	return e.a, true
}

// version returns the version of the directory fh's entry, if it has
// fresh attributes.
func (c *cache) version(fh []byte) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.attrs[string(fh)]
	if e == nil || time.Since(e.fetched) >= e.ttl {
		return 0, false
	}
	return e.ver, true
}

// update records attributes the server sent for fh. own, if not nil, is
// the pre-operation part of the wcc data of a change this client made: if
// it matches what was cached, the change is ours alone and the names
// cached under the directory stay valid.
func (c *cache) update(fh []byte, a *fattr, own *wcc) {
	if a == nil {
		if own != nil { // a change without attributes: forget the directory
			c.forget(fh)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	lo, hi := c.bounds(a)
	e := c.attrs[string(fh)]
	if e == nil {
		if len(c.attrs) >= maxEntries {
			clear(c.attrs)
		}
		c.ver++
		c.attrs[string(fh)] = &attrEntry{a: *a, fetched: time.Now(), ttl: lo, ver: c.ver}
		return
	}
	changed := a.mtime != e.a.mtime || a.ctime != e.a.ctime || a.size != e.a.size || a.nlink != e.a.nlink || a.mode != e.a.mode
	switch {
	case !changed:
		e.ttl = min(max(2*e.ttl, lo), hi)
	case own != nil && own.pre && own.mtime == e.a.mtime && own.ctime == e.a.ctime:
		e.ttl = lo
	default:
		c.ver++
		e.ver = c.ver
		e.ttl = lo
	}
	e.a = *a
	e.fetched = time.Now()
}

// forget drops the attributes of fh, and so the names cached under it.
func (c *cache) forget(fh []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.attrs, string(fh))
}

// name returns the cached entry for name in dir, if valid under the
// directory's current version ver.
func (c *cache) name(dir []byte, name string, ver uint64) (dentry, bool) {
	if !c.cfg.lookups {
		return dentry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dents[dkey{string(dir), name}]
	if !ok || d.ver != ver {
		return dentry{}, false
	}
	return d, true
}

// setName records that name in dir is fh (nil: absent), under the
// directory's current version if its attributes are cached.
func (c *cache) setName(dir []byte, name string, fh []byte) {
	if !c.cfg.lookups {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.attrs[string(dir)]
	k := dkey{string(dir), name}
	if e == nil {
		delete(c.dents, k)
		return
	}
	if len(c.dents) >= maxEntries {
		clear(c.dents)
	}
	c.dents[k] = dentry{fh: fh, ver: e.ver}
}

func (c *cache) dropName(dir []byte, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.dents, dkey{string(dir), name})
}

// flush drops everything cached.
func (c *cache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.attrs)
	clear(c.dents)
}
