package whatsmeow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// levelTrace is below slog's debug level. whatsmeow's "Send" and "Recv"
// modules log every XML node on the socket at debug; those dumps go here so
// that turning on debug logs does not flood them.
const levelTrace = slog.LevelDebug - 4

// waLogger routes whatsmeow's printf-style waLog.Logger into slog. Messages
// stay fixed ("whatsmeow_log"); whatsmeow's formatted line goes into the
// "text" attribute with phone numbers masked, and the whatsmeow module path
// ("Client/Recv", "Database", …) into "module".
type waLogger struct {
	log        *slog.Logger
	module     string
	debugLevel slog.Level
}

var _ waLog.Logger = (*waLogger)(nil)

// newWALogger returns a waLog.Logger writing to log under the given module.
func newWALogger(log *slog.Logger, module string) waLog.Logger {
	return &waLogger{log: log, module: module, debugLevel: debugLevelFor(module)}
}

func debugLevelFor(module string) slog.Level {
	if strings.HasSuffix(module, "/Send") || strings.HasSuffix(module, "/Recv") {
		return levelTrace
	}
	return slog.LevelDebug
}

func (l *waLogger) Errorf(msg string, args ...any) { l.logf(slog.LevelError, msg, args) }
func (l *waLogger) Warnf(msg string, args ...any)  { l.logf(slog.LevelWarn, msg, args) }
func (l *waLogger) Infof(msg string, args ...any)  { l.logf(slog.LevelInfo, msg, args) }
func (l *waLogger) Debugf(msg string, args ...any) { l.logf(l.debugLevel, msg, args) }

// Sub returns a logger for a whatsmeow sub-module ("Client" → "Client/Recv").
func (l *waLogger) Sub(module string) waLog.Logger {
	if l.module != "" {
		module = l.module + "/" + module
	}
	return newWALogger(l.log, module)
}

func (l *waLogger) logf(level slog.Level, format string, args []any) {
	ctx := context.Background()
	// Formatting (and XML-dumping) is the expensive part; skip it when the
	// level is off.
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, "whatsmeow_log", "module", l.module, "text", redactPhones(fmt.Sprintf(format, args...)))
}
