package testrun

// Loop calls fn with 0, 1, 2, ... one call after the other in a goroutine
// of its own until fn returns false or the stop that Loop returns is
// called. stop returns once the loop has ended (the call in progress has
// returned); it may be called more than once.
func Loop(fn func(i int) bool) (stop func()) {
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			default:
			}
			if !fn(i) {
				return
			}
		}
	}()
	stopped := false
	return func() {
		if !stopped {
			stopped = true
			close(quit)
		}
		<-done
	}
}
