package main

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// demoProxy stands between the sync and Instance B, forwarding each
// connection to B's address and counting them, so the narration can show
// how many times the sync knocked while B was down: with B gone every
// request is a new connection, refused upstream.
type demoProxy struct {
	ln     net.Listener
	target string // B's host:port, the same across B's restarts
	url    string // the proxy's base URL, http://127.0.0.1:PORT/
	conns  atomic.Int64
	wg     sync.WaitGroup
}

// startDemoProxy listens on a free loopback port and forwards to target.
func startDemoProxy(target string) (*demoProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the proxy in front of B: %w", err)
	}
	p := &demoProxy{ln: ln, target: target, url: "http://" + ln.Addr().String() + "/"}
	p.wg.Go(p.accept)
	return p, nil
}

// accept forwards connections until the listener closes.
func (p *demoProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		p.wg.Go(func() { p.forward(c) })
	}
}

// forward copies one connection both ways; a refused upstream closes it.
func (p *demoProxy) forward(c net.Conn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", p.target, time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done // either side gone: close both
}

// connections returns the connections accepted so far.
func (p *demoProxy) connections() int64 { return p.conns.Load() }

// close stops accepting; connections in flight end with their peers.
func (p *demoProxy) close() { p.ln.Close() }
