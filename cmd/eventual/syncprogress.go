package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// terminalProgress returns the sync's progress reporter for w: a bar per
// table being loaded when w is a terminal, nil otherwise (the sync then
// logs a line every few seconds, which suits CI logs and files).
func terminalProgress(w io.Writer) func(replication.Progress) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressBars(w)
}

// progressBars draws each table's full read as a bar on w: rows against
// the source's count, the rate and the time left.
func progressBars(w io.Writer) func(replication.Progress) {
	var mu sync.Mutex
	bars := map[string]*progressbar.ProgressBar{}
	return func(p replication.Progress) {
		mu.Lock()
		defer mu.Unlock()
		bar := bars[p.Table]
		if bar == nil {
			bar = progressbar.NewOptions64(p.Total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("loading "+p.Table),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("rows"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { io.WriteString(w, "\n") }),
			)
			bars[p.Table] = bar
		}
		bar.Set64(p.Rows)
		if p.Done {
			bar.Finish()
			delete(bars, p.Table)
		}
	}
}
