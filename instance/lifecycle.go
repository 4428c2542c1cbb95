package instance

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultPurgeInterval is how often the purge loop forgets expired
// deletions when PurgeInterval is 0.
const DefaultPurgeInterval = time.Hour

// ErrStarted is returned by Start on an instance started before.
var ErrStarted = errors.New("instance: already started")

// lifecycle is the state of the background loops Start runs.
type lifecycle struct {
	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start starts the background loops of the instance, which run until Stop
// is called or ctx ends:
//
//   - the job runner, which runs the jobs of asynchronous steps when a
//     commit queues one and every JobPollInterval. Several runners (on one
//     server or several) may run at once; each job runs once.
//   - when ChangeRetention is set, the purge loop, which forgets the
//     deletions older than ChangeRetention at once and then every
//     PurgeInterval.
//
// An instance starts once: Start returns ErrStarted if it was started
// before, even if it has been stopped since.
func (in *Instance) Start(ctx context.Context) error {
	in.life.mu.Lock()
	defer in.life.mu.Unlock()
	if in.life.started {
		return ErrStarted
	}
	in.life.started = true
	ctx, in.life.cancel = context.WithCancel(ctx)
	in.jobsOnce.Do(in.initJobs)
	in.life.wg.Go(func() { in.jobLoop(ctx) })
	if in.ChangeRetention > 0 {
		in.life.wg.Go(func() { in.purgeLoop(ctx) })
	}
	return nil
}

// Stop stops the background loops and waits for them to return, so that
// no loop uses the store once Stop returns: close the store only after.
// A job running when Stop is called sees its context end; Stop waits for
// its step to return and for its outcome to be recorded. Stop may be
// called more than once, and on an instance never started.
func (in *Instance) Stop() {
	in.life.mu.Lock()
	cancel := in.life.cancel
	in.life.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	in.life.wg.Wait()
}

// jobLoop runs jobs until ctx ends: when a commit queues one, and every
// JobPollInterval.
func (in *Instance) jobLoop(ctx context.Context) {
	t := time.NewTicker(JobPollInterval)
	defer t.Stop()
	for {
		in.RunJobs(ctx)
		select {
		case <-ctx.Done():
			return
		case <-in.jobsWake:
		case <-t.C:
		}
	}
}

// purgeLoop forgets expired deletions now and then every PurgeInterval
// until ctx ends.
func (in *Instance) purgeLoop(ctx context.Context) {
	interval := in.PurgeInterval
	if interval <= 0 {
		interval = DefaultPurgeInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := in.ExpireChanges(ctx, in.now().Add(-in.ChangeRetention)); err != nil {
			if ctx.Err() == nil {
				in.logger().Warn("purge expired deletions", "err", err)
			}
		} else if n > 0 {
			in.logger().Info("purged expired deletions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
