package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Exercised counts what a run actually exercised, so that a hollow profile
// shows: the faults injected by kind, and the paths of the protocols that
// only faults and races reach.
type Exercised struct {
	Faults       map[string]int // faults injected, by kind
	Breaks       int            // attempts that broke a stale lock
	Restores     int            // a moved lock put back at the lock name (link or rename of a tomb onto it)
	CacheHits    int            // lookups and listings answered from a host's cache
	CacheLookups int            // lookups and listings that consulted a cache
	LateCalls    int            // calls on the lock name the server applied late (held up past the staleness bound)
	LateOntoLock int            // late calls that put something at the lock name (a rename or link onto it)
	Excused      map[string]int // violations excused, by mechanism (see excuse.go)
}

func (e *Exercised) fault(kind string) {
	if e.Faults == nil {
		e.Faults = map[string]int{}
	}
	e.Faults[kind]++
}

func (e *Exercised) excuse(mechanism string) {
	if e.Excused == nil {
		e.Excused = map[string]int{}
	}
	e.Excused[mechanism]++
}

// Add adds the counts of o.
func (e *Exercised) Add(o Exercised) {
	for k, v := range o.Faults {
		if e.Faults == nil {
			e.Faults = map[string]int{}
		}
		e.Faults[k] += v
	}
	for k, v := range o.Excused {
		if e.Excused == nil {
			e.Excused = map[string]int{}
		}
		e.Excused[k] += v
	}
	e.Breaks += o.Breaks
	e.Restores += o.Restores
	e.CacheHits += o.CacheHits
	e.CacheLookups += o.CacheLookups
	e.LateCalls += o.LateCalls
	e.LateOntoLock += o.LateOntoLock
}

// String is the counts on one line: faults by kind, then the paths.
func (e Exercised) String() string {
	kv := func(m map[string]int) string {
		var s []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s = append(s, fmt.Sprintf("%s=%d", k, m[k]))
		}
		if len(s) == 0 {
			return "none"
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprintf("exercised: faults[%s] breaks=%d restores=%d cache-hits=%d/%d late-calls=%d late-onto-lock=%d excused[%s]",
		kv(e.Faults), e.Breaks, e.Restores, e.CacheHits, e.CacheLookups, e.LateCalls, e.LateOntoLock, kv(e.Excused))
}
