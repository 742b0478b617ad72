// Command roundrobin stands in for a Kubernetes Service in front of several local api
// replicas: it accepts TCP connections on one address and hands each new connection to the
// next backend in turn, as kube-proxy balances per connection. A backend that refuses the
// connection is skipped for that connection (a Service drops a dead pod from its endpoints),
// so killing one replica costs its open connections, not new ones. Bytes are copied untouched.
//
// Usage: roundrobin -listen 127.0.0.1:18100 -backends 127.0.0.1:19500,127.0.0.1:19501
// On SIGTERM or SIGINT it prints one line per backend, "backend ADDR connections N", and exits 0.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "", "address to accept connections on")
	backends := flag.String("backends", "", "comma list of backend addresses")
	flag.Parse()
	var addrs []string
	for _, b := range strings.Split(*backends, ",") {
		if b = strings.TrimSpace(b); b != "" {
			addrs = append(addrs, b)
		}
	}
	if *listen == "" || len(addrs) == 0 {
		fmt.Fprintln(os.Stderr, "roundrobin: usage: roundrobin -listen ADDR -backends ADDR[,ADDR...]")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "roundrobin: %v\n", err)
		os.Exit(1)
	}
	counts := make([]atomic.Int64, len(addrs))
	var next atomic.Uint64

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		ln.Close()
		for i, a := range addrs {
			fmt.Printf("backend %s connections %d\n", a, counts[i].Load())
		}
		os.Exit(0)
	}()

	for {
		c, err := ln.Accept()
		if err != nil {
			// Closed by the signal handler (which exits), or a transient error (EMFILE): wait.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		start := int(next.Add(1) - 1)
		go func() {
			defer c.Close()
			for k := 0; k < len(addrs); k++ {
				i := (start + k) % len(addrs)
				b, err := net.DialTimeout("tcp", addrs[i], 2*time.Second)
				if err != nil {
					continue
				}
				counts[i].Add(1)
				pipe(c, b)
				return
			}
		}()
	}
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	defer b.Close()
	var once sync.Once
	done := make(chan struct{})
	closeBoth := func() { once.Do(func() { a.Close(); b.Close(); close(done) }) }
	go func() { io.Copy(b, a); closeBoth() }()
	go func() { io.Copy(a, b); closeBoth() }()
	<-done
}
