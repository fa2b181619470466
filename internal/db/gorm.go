package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

const (
	// slowQuery is the duration above which a query is logged as a warning.
	slowQuery = 200 * time.Millisecond
	// defaultPing bounds Ping when its context has no deadline.
	defaultPing = 5 * time.Second
	// dialTimeout bounds each new pool connection, so a query does not hang
	// on an unreachable server while the pool reconnects.
	dialTimeout = 10 * time.Second
)

// Open connects to the database at dsn (a postgres:// URL or a keyword/value
// string) through pgx and returns a gorm handle with kumo's pool settings and
// a logger writing to log. The first connection is attempted within ctx; its
// error is one line that names the server but never the password.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*gorm.DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hideParams.Do(func() {
		// Scan logs through gorm's trace recorder, which consults this
		// package-level filter instead of our logger's ParamsFilter.
		logger.RecorderParamsFilter = func(_ context.Context, sql string, _ ...any) (string, []any) { return sql, nil }
	})
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, dsnError(dsn, "", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = dialTimeout
	}
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetMaxOpenConns(20)
	sqlDB.SetMaxIdleConns(10)
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, dsnError(dsn, cfg.Password, err)
	}
	gdb, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger: &gormLogger{log: log, level: logger.Warn},
		// We pinged above, bounded by ctx; gorm's own ping is not.
		DisableAutomaticPing: true,
		// Unique violations become gorm.ErrDuplicatedKey, which stores map
		// to a conflict.
		TranslateError: true,
		// timestamptz keeps microseconds; rounding makes values round-trip.
		NowFunc: func() time.Time { return time.Now().UTC().Round(time.Microsecond) },
	})
	if err != nil {
		_ = sqlDB.Close()
		return nil, dsnError(dsn, cfg.Password, err)
	}
	return gdb, nil
}

// Ping checks that the database answers, within ctx (5 s if ctx has no
// deadline). It is meant for readiness probes: when the server is gone it
// fails promptly, and once it is back the pool reconnects by itself.
func Ping(ctx context.Context, gdb *gorm.DB) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultPing)
		defer cancel()
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("database ping: %s", oneLine(err.Error()))
	}
	return nil
}

// RedactDSN returns dsn fit for logs and errors: any password is replaced by
// "***".
func RedactDSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return urlPassword.ReplaceAllString(dsn, "$1***@")
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "***")
			u.RawQuery = strings.ReplaceAll(q.Encode(), "%2A", "*")
		}
		if _, ok := u.User.Password(); !ok {
			return u.String()
		}
		// url.UserPassword would escape the asterisks.
		u.User = url.User(u.User.Username())
		s := u.String()
		prefix := u.Scheme + "://" + u.User.String()
		return prefix + ":***" + s[len(prefix):]
	}
	return kvPassword.ReplaceAllString(dsn, "${1}***")
}

var (
	hideParams sync.Once

	urlPassword = regexp.MustCompile(`(://[^:/@]*:)[^@]*@`)
	kvPassword  = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
)

// dbError is a connection error whose message names the server (redacted)
// on one line; it unwraps to the driver's error.
type dbError struct {
	msg string
	err error
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.err }

func dsnError(dsn, password string, err error) error {
	msg := err.Error()
	if password != "" {
		msg = strings.ReplaceAll(msg, password, "***")
	}
	msg = kvPassword.ReplaceAllString(urlPassword.ReplaceAllString(msg, "$1***@"), "${1}***")
	return &dbError{msg: "database " + RedactDSN(dsn) + ": " + joinLines(msg), err: err}
}

// joinLines puts a multi-line driver error (pgx joins one line per address
// tried) on one line, dropping repeats.
func joinLines(msg string) string {
	var parts []string
	var b strings.Builder
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || slices.Contains(parts, l) {
			continue
		}
		if len(parts) > 0 {
			if strings.HasSuffix(parts[len(parts)-1], ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		parts = append(parts, l)
		b.WriteString(l)
	}
	return b.String()
}

// gormLogger sends gorm's messages to slog: failed and slow queries as
// warnings, others at debug level, and never the query parameters (which
// may hold secrets).
type gormLogger struct {
	log   *slog.Logger
	level logger.LogLevel
}

var (
	_ logger.Interface  = (*gormLogger)(nil)
	_ gorm.ParamsFilter = (*gormLogger)(nil)
)

func (l *gormLogger) LogMode(level logger.LogLevel) logger.Interface {
	c := *l
	c.level = level
	return &c
}

func (l *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Info {
		l.log.InfoContext(ctx, fmt.Sprintf(msg, args...))
	}
}

func (l *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Warn {
		l.log.WarnContext(ctx, fmt.Sprintf(msg, args...))
	}
}

func (l *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	if l.level >= logger.Error {
		l.log.ErrorContext(ctx, fmt.Sprintf(msg, args...))
	}
}

func (l *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if l.level <= logger.Silent {
		return
	}
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && l.level >= logger.Error:
		sql, rows := l.sql(fc)
		level := slog.LevelWarn
		if errors.Is(err, context.Canceled) {
			level = slog.LevelDebug
		}
		l.log.Log(ctx, level, "query failed", "sql", sql, "rows", rows, "duration", elapsed, "err", err)
	case elapsed > slowQuery && l.level >= logger.Warn:
		sql, rows := l.sql(fc)
		l.log.WarnContext(ctx, "slow query", "sql", sql, "rows", rows, "duration", elapsed)
	case l.log.Enabled(ctx, slog.LevelDebug):
		sql, rows := l.sql(fc)
		l.log.DebugContext(ctx, "query", "sql", sql, "rows", rows, "duration", elapsed)
	}
}

// placeholder matches what gorm's Explain makes of "$1" when it has no
// parameters to put in: "$1$".
var placeholder = regexp.MustCompile(`\$(\d+)\$`)

func (l *gormLogger) sql(fc func() (string, int64)) (string, int64) {
	sql, rows := fc()
	return placeholder.ReplaceAllString(sql, "$$$1"), rows
}

// ParamsFilter keeps parameters out of logged SQL.
func (l *gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
