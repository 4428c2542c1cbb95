package replication

import "context"

// This file holds the lease that makes one sync process the active one
// of a table pair (see State.AcquireLease).

// lease is the owner Commit checks, "" with leases off.
func (s *Syncer) lease() string {
	if s.opts.LeaseTTL < 0 {
		return ""
	}
	return s.opts.Owner
}

// holdLease takes or renews the table's lease. Without it the table is
// another process's: the report says standby.
func (s *Syncer) holdLease(ctx context.Context, p *pair, r *TableReport) bool {
	if s.opts.LeaseTTL < 0 {
		return true
	}
	ok, err := s.opts.State.AcquireLease(ctx, p.name, s.opts.Owner, s.opts.LeaseTTL)
	if err != nil {
		r.Err = err
		return false
	}
	s.mu.Lock()
	was, known := s.standbys[p.name]
	s.standbys[p.name] = !ok
	s.mu.Unlock()
	if !known || was != !ok {
		if ok {
			s.log.Info("replication: active for the table (lease taken)", "table", p.name, "owner", s.opts.Owner)
		} else {
			s.log.Info("replication: standby for the table (another sync holds the lease)", "table", p.name)
		}
	}
	r.Standby = !ok
	return ok
}
