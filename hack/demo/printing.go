package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// printer writes the demo's progress: numbered steps, their details indented below them,
// and tables aligned like kubectl's. It is safe for concurrent use (the kubelet stand-in
// reports from its own goroutine).
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	n     int // the current step
	total int
}

// indent prefixes the lines under a step.
const indent = "    "

func newPrinter(w io.Writer, total int) *printer { return &printer{w: w, total: total} }

// step runs fn as the next numbered step, bounded by timeout: it prints the step's title,
// then "ok" with the time taken, or the failure. The error names the step.
func (p *printer) step(ctx context.Context, timeout time.Duration, title string, fn func(context.Context) error) error {
	p.mu.Lock()
	p.n++
	n := p.n
	fmt.Fprintf(p.w, "\n==> [%d/%d] %s\n", n, p.total, title)
	p.mu.Unlock()
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := fn(sctx)
	took := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			p.printf("interrupted after %s", took)
		case sctx.Err() != nil:
			err = fmt.Errorf("timed out after %s: %w", timeout, err)
			fallthrough
		default:
			p.printf("FAILED after %s: %v", took, err)
		}
		return fmt.Errorf("step %d/%d (%s): %w", n, p.total, title, err)
	}
	p.printf("ok (%s)", took)
	return nil
}

// printf prints one indented line.
func (p *printer) printf(format string, args ...any) {
	p.block(fmt.Sprintf(format, args...))
}

// block prints text with every line indented.
func (p *printer) block(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for line := range strings.Lines(strings.TrimRight(text, "\n")) {
		fmt.Fprintf(p.w, "%s%s", indent, line)
		if !strings.HasSuffix(line, "\n") {
			fmt.Fprintln(p.w)
		}
	}
}

// raw prints text as it is.
func (p *printer) raw(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, text)
}

// table renders a header and rows aligned as kubectl does (three spaces between columns).
func table(header []string, rows [][]string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	return b.String()
}
