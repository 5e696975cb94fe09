// Command pv-ferretdb runs FerretDB v1 (MongoDB wire protocol over SQLite or
// PostgreSQL) on a loopback address, for the project's tests and demo.
//
// It embeds the github.com/FerretDB/FerretDB/ferretdb package instead of
// installing cmd/ferretdb: a `go install` of the latter panics at start-up
// because build/version/version.txt is not part of the module zip.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on (loopback only)")
	sqliteDir := flag.String("sqlite-dir", "", "existing directory for the SQLite databases (the SQLite backend)")
	postgresqlURL := flag.String("postgresql-url", "", "PostgreSQL backend instead of SQLite: postgres://HOST:PORT/DB?user=U "+
		"(loopback only; the password comes from PGPASSWORD, never from argv)")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listenAddr)
	if err != nil {
		fail("bad --listen-addr %q: %v", *listenAddr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fail("--listen-addr %q is not a loopback address", *listenAddr)
	}
	config := ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listenAddr}}
	backend := ""
	switch {
	case *postgresqlURL != "" && *sqliteDir != "":
		fail("--postgresql-url and --sqlite-dir exclude each other")
	case *postgresqlURL != "":
		u, err := neturl.Parse(*postgresqlURL)
		if err != nil {
			fail("bad --postgresql-url: %v", err)
		}
		if _, hasPassword := u.User.Password(); hasPassword || u.Query().Has("password") {
			fail("--postgresql-url holds a password: put it in PGPASSWORD (argv is public)")
		}
		if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
			fail("--postgresql-url host %q is not a loopback address", u.Hostname())
		}
		config.Handler, config.PostgreSQLURL, backend = "postgresql", *postgresqlURL, *postgresqlURL
	case *sqliteDir != "":
		if st, err := os.Stat(*sqliteDir); err != nil || !st.IsDir() {
			fail("--sqlite-dir %q is not an existing directory", *sqliteDir)
		}
		url := "file:" + strings.TrimSuffix(*sqliteDir, "/") + "/"
		config.Handler, config.SQLiteURL, backend = "sqlite", url, url
	default:
		fail("--sqlite-dir or --postgresql-url is required")
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fail("bad --log-level %q: %v", *logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	config.Logger = logger
	f, err := ferretdb.New(&config)
	if err != nil {
		fail("start: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger.Info("pv-ferretdb listening", "addr", *listenAddr, "backend", backend)
	if err := f.Run(ctx); err != nil {
		fail("run: %v", err)
	}
	logger.Info("pv-ferretdb stopped")
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pv-ferretdb: "+format+"\n", args...)
	os.Exit(2)
}
