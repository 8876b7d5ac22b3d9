package pgstore

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/stratakit/webhook"
)

// Options configures a [Store]. The zero value of every field means the
// documented default.
type Options struct {
	// Schema is the Postgres schema that holds the tables; it is created
	// by the migration if it does not exist. Empty means "public".
	Schema string

	// TablePrefix starts the name of every table and index the store
	// creates: <prefix>deliveries, <prefix>attempts and
	// <prefix>schema_migrations. Empty means "webhook_".
	TablePrefix string

	// NotifyChannel is the LISTEN/NOTIFY channel on which stores sharing
	// the tables tell each other of new deliveries; at most 63 bytes.
	// Empty means "<schema>.<prefix>wake" (shortened with a hash when that
	// is too long), so that stores on different tables of one database do
	// not wake each other.
	NotifyChannel string

	// DisableListen turns the listener off: the store then holds no
	// connection of its own and [Store.Wake] never receives, so other
	// processes' deliveries are noticed only on the Dispatcher's poll
	// (Config.PollInterval). Needed behind a pooler in transaction mode,
	// which cannot LISTEN. Inserts still NOTIFY.
	DisableListen bool

	// SkipMigrate leaves the schema alone at [Open], for teams that apply
	// the statements of [Migrations] with their own tool or call [Migrate]
	// from a deploy step. Open then only checks that the schema is at the
	// version this package needs. False (the default) migrates at Open.
	SkipMigrate bool

	// Logger receives the listener's connection errors. Nil means silent.
	Logger *slog.Logger
}

// Defaults of the Options fields.
const (
	DefaultSchema      = "public"
	DefaultTablePrefix = "webhook_"
)

// maxIdentLen is Postgres's longest identifier (NAMEDATALEN-1) in bytes;
// a longer name would be cut silently, so it is refused instead.
const maxIdentLen = 63

// identRE is what the store accepts as a schema name or table prefix: a
// plain lowercase identifier, so the names never need quoting by hand.
var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// names holds the quoted, schema-qualified names the SQL is built from.
type names struct {
	schema     string // quoted schema
	deliveries string // quoted schema.table
	attempts   string
	migrations string
	prefix     string // bare prefix, for index names
	channel    string // bare channel name, as passed to pg_notify
	lockKey    int64  // pg_advisory_xact_lock key for migrations
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if o.TablePrefix == "" {
		o.TablePrefix = DefaultTablePrefix
	}
	if o.NotifyChannel == "" {
		o.NotifyChannel = defaultChannel(o.Schema, o.TablePrefix)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// validate reports the first field out of range, naming it. It expects o
// with defaults applied.
func (o Options) validate() error {
	longest := len(o.TablePrefix) + len("schema_migrations")
	switch {
	case !identRE.MatchString(o.Schema):
		return fmt.Errorf("%w: pgstore Options.Schema: %q is not a lowercase identifier "+
			"(letters, digits, underscores)", webhook.ErrInvalidConfig, o.Schema)
	case len(o.Schema) > maxIdentLen:
		return fmt.Errorf("%w: pgstore Options.Schema: %q is longer than %d bytes",
			webhook.ErrInvalidConfig, o.Schema, maxIdentLen)
	case !identRE.MatchString(o.TablePrefix):
		return fmt.Errorf("%w: pgstore Options.TablePrefix: %q is not a lowercase identifier "+
			"(letters, digits, underscores)", webhook.ErrInvalidConfig, o.TablePrefix)
	case longest > maxIdentLen:
		return fmt.Errorf("%w: pgstore Options.TablePrefix: %q makes table names longer than %d bytes",
			webhook.ErrInvalidConfig, o.TablePrefix, maxIdentLen)
	case len(o.NotifyChannel) > maxIdentLen:
		return fmt.Errorf("%w: pgstore Options.NotifyChannel: %q is longer than %d bytes",
			webhook.ErrInvalidConfig, o.NotifyChannel, maxIdentLen)
	}
	return nil
}

// names derives the quoted names from o, which has defaults applied and
// is valid.
func (o Options) names() names {
	table := func(t string) string {
		return pgx.Identifier{o.Schema, o.TablePrefix + t}.Sanitize()
	}
	return names{
		schema:     pgx.Identifier{o.Schema}.Sanitize(),
		deliveries: table("deliveries"),
		attempts:   table("attempts"),
		migrations: table("schema_migrations"),
		prefix:     o.TablePrefix,
		channel:    o.NotifyChannel,
		lockKey:    lockKey(o.Schema),
	}
}

// defaultChannel is the NotifyChannel for a schema and prefix: readable
// when it fits in an identifier, else cut and ended by a hash of the whole.
func defaultChannel(schema, prefix string) string {
	name := schema + "." + prefix + "wake"
	if len(name) <= maxIdentLen {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	suffix := fmt.Sprintf("_%08x", h.Sum32())
	return name[:maxIdentLen-len(suffix)] + suffix
}

// lockKey is the advisory lock that serializes migrations in one schema:
// a hash of the schema's name, so that migrations in other schemas of the
// database do not wait for each other, while two table prefixes in one
// schema do not race to create it.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("github.com/stratakit/webhook/pgstore:" + schema))
	return int64(h.Sum64())
}
