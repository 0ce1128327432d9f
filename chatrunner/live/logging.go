package live

import "github.com/go-logr/logr"

// clientGoMaxV is the highest verbosity the logger handed to client-go keeps: its REST
// client logs response bodies, a listed Secret's data included, at V(8).
const clientGoMaxV = 5

// clientGoLogger returns log with verbosities above clientGoMaxV disabled, for the
// informers and the requests they make.
func clientGoLogger(log logr.Logger) logr.Logger {
	if log.GetSink() == nil {
		return log
	}
	return logr.New(cappedSink{log.GetSink()})
}

// cappedSink disables the verbosities above clientGoMaxV of a sink.
type cappedSink struct{ logr.LogSink }

func (s cappedSink) Enabled(level int) bool {
	return level <= clientGoMaxV && s.LogSink.Enabled(level)
}

func (s cappedSink) WithValues(kv ...any) logr.LogSink {
	return cappedSink{s.LogSink.WithValues(kv...)}
}

func (s cappedSink) WithName(name string) logr.LogSink {
	return cappedSink{s.LogSink.WithName(name)}
}

// WithCallDepth keeps the call sites the sink reports right.
func (s cappedSink) WithCallDepth(depth int) logr.LogSink {
	if d, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return cappedSink{d.WithCallDepth(depth)}
	}
	return s
}
