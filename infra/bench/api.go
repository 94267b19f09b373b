package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// binarySizes builds the API for Lambda (linux/arm64, stripped) and for this
// machine, reports both sizes, and returns the native binary's path.
func binarySizes(r *report, dir string) (string, error) {
	r.add("\n## API binary\n\n| build | size |\n|---|---|\n")
	builds := []struct{ name, goos, goarch string }{
		{"Lambda (linux/arm64, -s -w, lambda.norpc)", "linux", "arm64"},
		{"native (this machine)", "", ""},
	}
	var native string
	for i, b := range builds {
		path := filepath.Join(dir, fmt.Sprintf("api-%d", i))
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", path, "./functions/api")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b.goos != "" {
			cmd.Env = append(cmd.Env, "GOOS="+b.goos, "GOARCH="+b.goarch)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build api: %v: %s", err, out)
		}
		st, err := os.Stat(path)
		if err != nil {
			return "", err
		}
		r.add("| %s | %.1f MiB |\n", b.name, float64(st.Size())/(1<<20))
		native = path
	}
	return native, nil
}

type apiProc struct {
	cmd *exec.Cmd
	url string
}

func (p *apiProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startAPI starts the binary and waits for its first 200 from /healthz.
func startAPI(bin string, env []string) (*apiProc, error) {
	p, _, err := startTimed(bin, env)
	return p, err
}

func startTimed(bin string, env []string) (*apiProc, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(env, fmt.Sprintf("PORT=%d", port))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	p := &apiProc{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	client := &http.Client{Timeout: time.Second}
	for deadline := start.Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		res, err := client.Get(p.url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p, time.Since(start), nil
			}
		}
	}
	p.stop()
	return nil, 0, fmt.Errorf("api did not answer /healthz within 20 s")
}

// startupTimes measures process start to first successful response.
func startupTimes(r *report, bin string, env []string, n int) error {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		p, d, err := startTimed(bin, env)
		if err != nil {
			return err
		}
		p.stop()
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	r.add("\n## API start-up\n\nProcess start to first `200` from `/healthz`, %d runs: median **%s**, min %s, max %s.\n",
		n, ms(ds[len(ds)/2]), ms(ds[0]), ms(ds[len(ds)-1]))
	return nil
}

// apiLoad runs GET /v1/account open-loop at a fixed rate, then closed-loop
// at a few concurrencies to find the throughput ceiling.
func apiLoad(r *report, base, key string, rate int, dur time.Duration) error {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	get := func() (time.Duration, bool) {
		req, _ := http.NewRequest("GET", base+"/v1/account", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return time.Since(start), false
		}
		res.Body.Close()
		return time.Since(start), res.StatusCode == 200
	}
	for i := 0; i < 50; i++ { // warm up connections and caches
		get()
	}
	r.add("\n## GET /v1/account on the local stack\n\nAPI key auth (one consistent DynamoDB read) plus one account read, against the embedded emulator; the API runs as its own process.\n\n")
	r.add("| mode | requests | errors | throughput | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|---|\n")

	// Open loop: a request every 1/rate seconds, whatever the latency.
	var lat []time.Duration
	var mu sync.Mutex
	var errs atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for time.Since(start) < dur {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, ok := get()
			if !ok {
				errs.Add(1)
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}()
	}
	tick.Stop()
	wg.Wait()
	row(r, fmt.Sprintf("fixed rate %d/s", rate), lat, errs.Load(), time.Since(start))

	for _, conc := range []int{1, 8, 32} {
		var lat []time.Duration
		var errs atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for time.Since(start) < dur/2 {
					d, ok := get()
					if !ok {
						errs.Add(1)
					}
					mine = append(mine, d)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		row(r, fmt.Sprintf("closed loop, %d concurrent", conc), lat, errs.Load(), time.Since(start))
	}
	return nil
}

func row(r *report, mode string, lat []time.Duration, errs int64, wall time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	r.add("| %s | %d | %d | %.0f/s | %s | %s | %s | %s |\n", mode, len(lat), errs,
		float64(len(lat))/wall.Seconds(), ms(q(0.5)), ms(q(0.9)), ms(q(0.99)), ms(lat[len(lat)-1]))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
