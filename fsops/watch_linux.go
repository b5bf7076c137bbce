package fsops

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

var _ Watcher = osFS{}

// watchMask is what a watch asks inotify for: entries leaving the
// directory (unlink, rmdir, rename away), and the end of the watch.
const watchMask = unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

// WatchDir implements Watcher with one inotify instance per watch, read by
// one goroutine that the watch owns: Close closes the descriptor, which
// wakes the goroutine's read (the descriptor is non-blocking and read
// through the runtime's poller), and waits for it to return.
func (osFS) WatchDir(dir string) (DirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "inotify_init1", Path: dir, Err: err}
	}
	if _, err := ignoringEINTR2(func() (int, error) { return unix.InotifyAddWatch(fd, dir, watchMask) }); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "inotify_add_watch", Path: dir, Err: err}
	}
	w := &inotifyWatch{
		f:    os.NewFile(uintptr(fd), "inotify:"+dir),
		left: make(chan string, 16),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.run()
	return w, nil
}

// inotifyWatch is a DirWatch on inotify.
type inotifyWatch struct {
	f    *os.File // the inotify descriptor, non-blocking, read by run only
	left chan string
	stop chan struct{} // closed by Close
	done chan struct{} // closed when run has returned
	once sync.Once
}

func (w *inotifyWatch) Left() <-chan string { return w.left }

func (w *inotifyWatch) Close() error {
	var err error
	w.once.Do(func() {
		close(w.stop)
		err = w.f.Close() // wakes run's read with os.ErrClosed
		<-w.done
	})
	return err
}

// run reads events until the watch ends and delivers the names.
func (w *inotifyWatch) run() {
	defer close(w.done)
	defer close(w.left)
	buf := make([]byte, 4096) // room for many events (each 16 bytes + name)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				// The descriptor failed: report everything as changed
				// once, then end.
				w.send("")
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameLen := int(ev.Len)
			end := off + unix.SizeofInotifyEvent + nameLen
			if end > n {
				break
			}
			name := buf[off+unix.SizeofInotifyEvent : end]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off = end
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				if !w.send("") {
					return
				}
			case ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED|unix.IN_UNMOUNT) != 0:
				// The directory is gone from its name, or the watch
				// was removed: entries may be anywhere now.
				w.send("")
				return
			case ev.Mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
				if !w.send(string(name)) {
					return
				}
			}
		}
	}
}

// send delivers name unless the watch is being closed, and reports which.
func (w *inotifyWatch) send(name string) bool {
	select {
	case w.left <- name:
		return true
	case <-w.stop:
		return false
	}
}
