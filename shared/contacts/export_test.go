package contacts

import (
	"bytes"
	"context"
	"io"
	"slices"
)

// Record is a csvRecord, for tests.
type Record struct {
	Line   int
	Fields []string
	Reason string
	End    Checkpoint
}

// ReadRecords reads every record of data from the checkpoint from, as the
// import worker does, and counts how often the file was opened.
func ReadRecords(data []byte, from Checkpoint) (recs []Record, opens int, err error) {
	open := func(_ context.Context, off int64) (io.ReadCloser, error) {
		opens++
		return io.NopCloser(bytes.NewReader(data[off:])), nil
	}
	st := newCSVStream(context.Background(), open, int64(len(data)), from)
	defer st.Close()
	for {
		rec, err := st.next()
		if err == io.EOF {
			return recs, opens, nil
		}
		if err != nil {
			return recs, opens, err
		}
		recs = append(recs, Record{Line: rec.line, Fields: slices.Clone(rec.fields), Reason: rec.reason, End: rec.end})
	}
}
