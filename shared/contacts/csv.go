package contacts

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits of an import file.
const (
	// MaxImportBytes is the largest CSV file an import accepts.
	MaxImportBytes = 10 << 20
	// MaxLineBytes is the longest record (line) an import reads; a longer
	// one is rejected and reading continues on the next line.
	MaxLineBytes = 64 << 10
)

// csvBufferSlack is how far encoding/csv's bufio.Reader may read ahead of
// the record it returns (its default buffer size).
const csvBufferSlack = 4096

// Checkpoint is a position in an import file at a record boundary: the
// byte offset of the next unread record and the line number there. A job
// that stops (a crash, a redelivered message, a run that ran out of time)
// resumes here, with a ranged read of the file.
type Checkpoint struct {
	Offset int64
	Line   int
}

// csvRecord is one record of an import file, or the reason it is broken.
type csvRecord struct {
	line   int      // the line the record starts on
	fields []string // valid until the next read; nil when broken
	reason string   // why the record is rejected; "" when it parsed
	end    Checkpoint
}

// opener opens the import file at a byte offset.
type opener func(ctx context.Context, offset int64) (io.ReadCloser, error)

// csvStream reads an import file record by record with encoding/csv
// (strict quotes, any number of fields) and survives broken records. The
// reader alone would let one unterminated quote swallow the rest of the
// file as a single field, and would hold a 10 MB line in memory; so a
// guard stops it MaxLineBytes past the record's start, and a record that
// is too long or broken across several lines is rejected by its first
// line only: reading restarts (a new ranged read) on the line after it.
type csvStream struct {
	ctx  context.Context
	open opener
	size int64

	rc    io.ReadCloser
	guard *readGuard
	cr    *csv.Reader
	base  Checkpoint // where cr started
	pos   Checkpoint // where the next record (or blank lines before it) starts
}

func newCSVStream(ctx context.Context, open opener, size int64, from Checkpoint) *csvStream {
	return &csvStream{ctx: ctx, open: open, size: size, pos: from}
}

// Close releases the open file.
func (s *csvStream) Close() {
	if s.rc != nil {
		_ = s.rc.Close()
		s.rc, s.cr = nil, nil
	}
}

// reset starts a new csv.Reader at cp.
func (s *csvStream) reset(cp Checkpoint) error {
	s.Close()
	rc, err := s.open(s.ctx, cp.Offset)
	if err != nil {
		return fmt.Errorf("open import file at %d: %w", cp.Offset, err)
	}
	s.attach(rc, rc, cp)
	return nil
}

// attach starts a csv.Reader on r, which is at cp of the file rc.
func (s *csvStream) attach(rc io.ReadCloser, r io.Reader, cp Checkpoint) {
	s.rc, s.guard = rc, &readGuard{r: r}
	s.cr = csv.NewReader(s.guard)
	s.cr.LazyQuotes = false   // a stray quote is an error, reported by line
	s.cr.FieldsPerRecord = -1 // the column count is checked per row, against the header
	s.cr.ReuseRecord = true
	s.base, s.pos = cp, cp
}

// abs turns a line number of the current reader into a line of the file.
func (s *csvStream) abs(line int) int { return s.base.Line + line - 1 }

// next returns the next record, io.EOF at the end of the file, or another
// error when the file cannot be read (the run stops and is retried).
func (s *csvStream) next() (csvRecord, error) {
	if s.pos.Offset >= s.size {
		return csvRecord{}, io.EOF
	}
	if s.cr == nil {
		if err := s.reset(s.pos); err != nil {
			return csvRecord{}, err
		}
	}
	start := s.cr.InputOffset() // reader-relative, like the guard's count
	s.guard.limit = start + MaxLineBytes + csvBufferSlack + 1
	fields, err := s.cr.Read()
	length := s.cr.InputOffset() - start
	end := s.base.Offset + s.cr.InputOffset()

	var first, last int // reader lines of the record
	reason := ""
	var pe *csv.ParseError
	switch {
	case s.guard.tripped:
		return s.skipBroken(errTooLong)
	case err == io.EOF:
		s.pos.Offset = s.size // only blank lines were left
		return csvRecord{}, io.EOF
	case errors.As(err, &pe):
		first, last, reason = pe.StartLine, pe.Line, parseReason(pe)
	case err != nil:
		return csvRecord{}, fmt.Errorf("read import file: %w", err)
	default:
		first, _ = s.cr.FieldPos(0)
		last = first
		for _, f := range fields {
			last += strings.Count(f, "\n") // quoted fields may hold line breaks
		}
	}
	if length > MaxLineBytes {
		reason = errTooLong
	}
	// A record that broke or overflowed across several lines may have
	// swallowed good rows (an unclosed quote), and blank lines before it
	// count against its length: re-read from its first line.
	if reason != "" && (last > first || s.abs(first) != s.pos.Line) {
		return s.skipBroken(reason)
	}
	rec := csvRecord{line: s.abs(first), reason: reason, end: Checkpoint{end, s.abs(last) + 1}}
	if reason == "" {
		rec.fields = fields
	}
	s.pos = rec.end
	return rec, nil
}

const errTooLong = "line is longer than 64 KiB"

// skipBroken rejects the record at s.pos by its first line and moves past
// that one line. Blank lines before it are skipped first; if there were
// some, the record is read again from its own first line, because the
// guard counted the blank lines against it.
func (s *csvStream) skipBroken(reason string) (csvRecord, error) {
	from := s.pos
	s.Close()
	rc, err := s.open(s.ctx, from.Offset)
	if err != nil {
		return csvRecord{}, fmt.Errorf("open import file at %d: %w", from.Offset, err)
	}
	br := bufio.NewReader(rc)
	cp := from
	for {
		n, blank, err := skipLine(br)
		if n == 0 && err == io.EOF {
			_ = rc.Close()
			s.pos = Checkpoint{s.size, cp.Line}
			return csvRecord{}, io.EOF
		}
		if err != nil && err != io.EOF {
			_ = rc.Close()
			return csvRecord{}, fmt.Errorf("skip broken line: %w", err)
		}
		if blank {
			cp = Checkpoint{cp.Offset + n, cp.Line + 1}
			continue
		}
		if cp != from {
			// Read the record again from its first line: the reader is
			// there, less the line just consumed.
			_ = rc.Close()
			s.pos = cp
			return s.next()
		}
		if reason == errTooLong && n <= MaxLineBytes+2 {
			// The line itself is short: a quote opened on it ran on.
			reason = "broken quoting: a quoted field opened on this line is not closed"
		}
		// The same open file continues after the skipped line.
		s.attach(rc, br, Checkpoint{cp.Offset + n, cp.Line + 1})
		return csvRecord{line: cp.Line, reason: reason, end: s.pos}, nil
	}
}

// skipLine consumes one line (through its '\n', or to the end of the
// file) without keeping it, and reports its length and whether it is
// blank ("\n" or "\r\n", which encoding/csv skips).
func skipLine(br *bufio.Reader) (n int64, blank bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if n == 0 {
			blank = len(chunk) > 0 && (string(chunk) == "\n" || string(chunk) == "\r\n")
		} else {
			blank = false
		}
		n += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			continue
		}
		return n, blank && err == nil, err
	}
}

func parseReason(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf("broken quoting: a \" in an unquoted field (column %d); quote the field and double the \"", pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf("broken quoting: a quoted field is not closed properly (column %d)", pe.Column)
	}
	return "the line is not valid CSV"
}

// readGuard stops encoding/csv from reading more than limit bytes.
type readGuard struct {
	r       io.Reader
	read    int64
	limit   int64
	tripped bool
}

var errGuard = errors.New("record exceeds the line limit")

// Read implements io.Reader.
func (g *readGuard) Read(p []byte) (int, error) {
	if g.read >= g.limit {
		g.tripped = true
		return 0, errGuard
	}
	if rem := g.limit - g.read; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}
