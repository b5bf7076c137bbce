//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/nfs3"
	"github.com/nfslease/nfslease/lease"
)

// workerConfig is what the parent passes to a worker, as JSON in workerEnv.
type workerConfig struct {
	Path     string        // the lock, through this worker's mount
	Protocol string        // strict or flufl
	Lifetime time.Duration // lease lifetime
	HoldMin  time.Duration // each holding lasts a random time in [HoldMin, HoldMax]
	HoldMax  time.Duration
	IdleMax  time.Duration // after a release, idle a random time in [0, IdleMax]
	// With probability LongP a holding lasts a random time in
	// [Lifetime/2, 2 Lifetime] instead, so that the lease is refreshed
	// while held and a partition or kill can catch the holder inside.
	LongP float64
	Seed  uint64
	// NFS, if set, is the NFSv3 target (through the parent's proxy) of
	// the worker's own nfs3.FS, a hard mount with timeo NFSTimeo; Path
	// is then a path within the export.
	NFS      string
	NFSTimeo time.Duration
	NFSMount string // the server's MOUNT host:port, not through the proxy
}

// mono reads CLOCK_MONOTONIC, which every process on the machine shares, so
// the parent can order the timestamps of different workers.
func mono() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // cannot fail on Linux
	}
	return ts.Nano()
}

// emit writes one line to stdout, the parent's pipe. os.Stdout is
// unbuffered: the line is one write(2), so it reaches the pipe before the
// worker goes on, and lines from concurrent callers do not interleave.
func emit(format string, args ...any) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// oneLine makes an error message safe for the line protocol.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// worker competes for the lock until SIGTERM, reporting on stdout:
//
//	enter <token> <mono ns>   the lease is ours; the critical section starts
//	exit <mono ns> <why>      it ends (done, lost, term) BEFORE release is called
//	released <ok|lost|err: ...>
//	broke                     Acquire broke a stale lock
//	acqerr <message>          Acquire failed for a reason other than SIGTERM
//
// "enter" is written before the critical section starts and "exit" before
// release is called, each timestamped with CLOCK_MONOTONIC, so the parent
// can check the intervals however late the lines arrive. A lease lost
// while held ends the interval when the worker sees held cancelled: later
// than the loss, so the check errs towards reporting an overlap.
func worker() error {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &cfg); err != nil {
		return fmt.Errorf("bad %s: %w", workerEnv, err)
	}
	var proto algorithm.Protocol
	switch cfg.Protocol {
	case "strict":
		proto = algorithm.Strict
	case "flufl":
		proto = algorithm.Flufl
	default:
		return fmt.Errorf("unknown protocol %q", cfg.Protocol)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(os.Getpid())))
	term, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stopSignals()
	var opts []lease.Option
	if cfg.NFS != "" {
		nfsys, stopStats, err := dialNFS(cfg)
		if err != nil {
			return err
		}
		defer nfsys.Close()
		defer stopStats()
		opts = append(opts, lease.WithFS(nfsys))
	}
	opts = append(opts,
		lease.WithLifetime(cfg.Lifetime),
		lease.WithProtocol(proto),
		lease.WithEventHook(func(e lease.Event) {
			if e.Kind == lease.EventBrokeStale {
				emit("broke")
			}
		}),
	)
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	for term.Err() == nil {
		hold := between(cfg.HoldMin, cfg.HoldMax)
		if rng.Float64() < cfg.LongP {
			hold = between(cfg.Lifetime/2, 2*cfg.Lifetime)
		}
		if err := holdOnce(term, cfg, opts, hold); err != nil {
			emit("acqerr %s", oneLine(err))
			sleepCtx(term, 100*time.Millisecond)
			continue
		}
		sleepCtx(term, between(0, cfg.IdleMax))
	}
	return nil
}

// dialNFS mounts the worker's NFS client and starts reporting its
// counters twice a second ("nfs <retransmits> <reconnects> <timeouts>
// <late replies>"), until the returned stop, which reports them a last
// time.
func dialNFS(cfg workerConfig) (*nfs3.FS, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nfsys, err := nfs3.Dial(ctx, cfg.NFS, nfs3.WithTimeout(cfg.NFSTimeo, 2), nfs3.WithMountAddr(cfg.NFSMount))
	if err != nil {
		return nil, nil, err
	}
	report := func() {
		s := nfsys.Stats()
		emit("nfs %d %d %d %d", s.Retransmits, s.Reconnects, s.Timeouts, s.LateReplies)
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report()
			case <-done:
				return
			}
		}
	}()
	return nfsys, func() {
		close(done)
		<-stopped
		report()
	}, nil
}

// holdOnce acquires the lock, holds it for hold (or until the lease is
// lost or SIGTERM arrives) and releases it. It returns an error only for
// a failed Acquire that SIGTERM did not cause.
func holdOnce(term context.Context, cfg workerConfig, opts []lease.Option, hold time.Duration) error {
	// held must not derive from term: SIGTERM would cancel it and release
	// the lock in the background before the worker could report its exit.
	// term cancels the acquisition only while Acquire waits.
	acqCtx, cancelAcq := context.WithCancel(context.Background())
	defer cancelAcq()
	cancelled := make(chan struct{})
	stopAfter := context.AfterFunc(term, func() {
		defer close(cancelled)
		cancelAcq()
	})
	held, release, err := lease.Acquire(acqCtx, cfg.Path, opts...)
	if !stopAfter() {
		<-cancelled // join the AfterFunc's goroutine
	}
	if err != nil {
		if term.Err() != nil {
			return nil
		}
		return err
	}
	if acqCtx.Err() != nil {
		// SIGTERM came as Acquire returned; held is already cancelled.
		// Nothing was done under the lease: give it back.
		_ = release()
		return nil
	}
	tok, ok := lease.TokenOf(held)
	if !ok {
		_ = release()
		return errors.New("held carries no fencing token")
	}
	emit("enter %d %d", tok, mono())
	why := "done"
	timer := time.NewTimer(hold)
	select {
	case <-timer.C:
	case <-held.Done():
		why = "lost"
	case <-term.Done():
		why = "term"
	}
	timer.Stop()
	if why != "lost" && held.Err() != nil {
		why = "lost" // cancelled meanwhile: the later timestamp is the safe one
	}
	emit("exit %d %s", mono(), why)
	switch err := release(); {
	case err == nil:
		emit("released ok")
	case errors.Is(err, lease.ErrLost):
		emit("released lost")
	default:
		emit("released err: %s", oneLine(err))
	}
	return nil
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
