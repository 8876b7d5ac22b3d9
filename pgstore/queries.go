package pgstore

import "github.com/stratakit/webhook"

// queries holds the store's SQL, built once with the configured names.
type queries struct {
	insert, insertNotify, byKey, get, attempts, list, nextDue, purge string
	claim, extend, release, record, notify                           string
}

// deliveryColumns are the columns scanDelivery reads, in its order; the
// claim statement returns them too, qualified, followed by the token.
const deliveryColumns = `id, coalesce(idempotency_key, ''), url, host, event_type,
	production_id, body, secret_key, status, attempts, next_attempt_at,
	lease_until, last_error, created_at, finished_at`

// Texts stored when a claim is taken over after its lease expired: the
// same in every store.
const (
	interruptedError = webhook.InterruptedError
	lastInterrupted  = webhook.LastInterruptedError
)

// buildQueries fills the table names into every statement.
func buildQueries(n names) queries {
	r := n.replacer()
	q := queries{
		insert: `
INSERT INTO {deliveries} (id, idempotency_key, url, host, event_type,
	production_id, body, secret_key, next_attempt_at, created_at)
VALUES ($1, nullif($2, ''), $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id`,

		// For a caller's transaction: the notice goes out at its commit,
		// and only if a row was inserted.
		insertNotify: `
WITH ins AS (
	INSERT INTO {deliveries} (id, idempotency_key, url, host, event_type,
		production_id, body, secret_key, next_attempt_at, created_at)
	VALUES ($1, nullif($2, ''), $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT (idempotency_key) DO NOTHING
	RETURNING id
)
SELECT id, pg_notify($11, '') FROM ins`,

		notify: `SELECT pg_notify($1, '')`,

		byKey: `SELECT id FROM {deliveries} WHERE idempotency_key = $1`,

		get: `SELECT ` + deliveryColumns + ` FROM {deliveries} WHERE id = $1`,

		attempts: `
SELECT a.number, coalesce(a.started_at, 'epoch'), coalesce(a.duration_ns, 0),
	coalesce(a.status_code, 0), coalesce(a.response_body, ''), coalesce(a.error, ''),
	coalesce(a.interrupted, false)
FROM {deliveries} d LEFT JOIN {attempts} a ON a.delivery_id = d.id
WHERE d.id = $1
ORDER BY a.number`,

		list: `
SELECT ` + deliveryColumns + ` FROM {deliveries}
WHERE ($1 = '' OR status = $1) AND ($2 = '' OR production_id = $2)
ORDER BY created_at, id
LIMIT $3`,

		nextDue: `
SELECT least(
	(SELECT min(next_attempt_at) FROM {deliveries}
		WHERE status = 'pending' AND claim_token IS NULL AND host <> ALL ($1::text[])),
	(SELECT min(lease_until) FROM {deliveries}
		WHERE claim_token IS NOT NULL AND host <> ALL ($1::text[])))`,

		purge: `
DELETE FROM {deliveries}
WHERE status <> 'pending' AND finished_at < $1`,

		// One statement: pick due deliveries, unclaimed or with an expired
		// lease, at most the claimer's cap of each host among the first
		// $8 due ($11 <= 0: no cap), skipping rows other claimers hold
		// locked; log the attempt
		// a takeover interrupts; then claim each, or finish it as failed
		// when the interrupted attempt was its last (those are returned
		// too, failed, for Claim to count them). cand carries the
		// locked row's values, which may be newer than the statement's
		// snapshot.
		claim: `
WITH due AS (
	SELECT id, host, next_attempt_at FROM {deliveries}
	WHERE status = 'pending' AND next_attempt_at <= $1
		AND (claim_token IS NULL OR lease_until <= $1)
		AND host <> ALL ($3::text[])
	ORDER BY next_attempt_at, id
	LIMIT $8
),
ranked AS (
	SELECT due.id, due.next_attempt_at,
		row_number() OVER (PARTITION BY due.host ORDER BY due.next_attempt_at, due.id) AS rn,
		coalesce(slots.n, $11) AS cap
	FROM due LEFT JOIN unnest($9::text[], $10::int[]) AS slots(host, n) USING (host)
),
cand AS (
	SELECT id, attempts, claimed_at, lease_until,
		claim_token IS NOT NULL AS expired,
		claim_token IS NOT NULL AND $4 > 0 AND attempts >= $4 AS last
	FROM {deliveries}
	WHERE id IN (SELECT id FROM ranked WHERE $11 <= 0 OR rn <= cap
		ORDER BY next_attempt_at, id LIMIT $2)
		AND status = 'pending' AND next_attempt_at <= $1
		AND (claim_token IS NULL OR lease_until <= $1)
	ORDER BY next_attempt_at, id
	LIMIT $2
	FOR UPDATE SKIP LOCKED
),
interrupted AS (
	INSERT INTO {attempts} (delivery_id, number, started_at, duration_ns,
		status_code, response_body, error, interrupted)
	SELECT id, attempts, coalesce(claimed_at, lease_until),
		coalesce(greatest(round(extract(epoch FROM lease_until - claimed_at)
			* 1000000000), 0), 0)::bigint,
		0, '', $6, true
	FROM cand WHERE expired
	ON CONFLICT DO NOTHING
),
upd AS (
	UPDATE {deliveries} d SET
		status      = CASE WHEN c.last THEN 'failed' ELSE 'pending' END,
		attempts    = CASE WHEN c.last THEN d.attempts ELSE d.attempts + 1 END,
		claim_token = CASE WHEN c.last THEN NULL ELSE gen_random_uuid()::text END,
		claimed_at  = CASE WHEN c.last THEN NULL ELSE $1::timestamptz END,
		lease_until = CASE WHEN c.last THEN NULL ELSE $5::timestamptz END,
		finished_at = CASE WHEN c.last THEN $1::timestamptz END,
		last_error  = CASE
			WHEN c.last THEN $7
			WHEN c.expired THEN $6
			ELSE d.last_error END
	FROM cand c
	WHERE d.id = c.id
	RETURNING d.id, coalesce(d.idempotency_key, ''), d.url, d.host, d.event_type,
		d.production_id, d.body, d.secret_key, d.status, d.attempts,
		d.next_attempt_at, d.lease_until, d.last_error, d.created_at,
		d.finished_at, d.claim_token
)
SELECT * FROM upd ORDER BY next_attempt_at, id`,

		extend: `
UPDATE {deliveries} SET lease_until = $3
WHERE id = $1 AND claim_token = $2`,

		release: `
UPDATE {deliveries} SET
	claim_token = NULL, claimed_at = NULL, lease_until = NULL,
	attempts = attempts - 1
WHERE id = $1 AND claim_token = $2`,

		// The attempt is logged only if the token still holds the claim,
		// in the same statement that drops it.
		record: `
WITH upd AS (
	UPDATE {deliveries} SET
		status          = $3,
		next_attempt_at = CASE WHEN $3 = 'pending' THEN $4::timestamptz
		                  ELSE next_attempt_at END,
		finished_at     = CASE WHEN $3 = 'pending' THEN NULL
		                  ELSE $5::timestamptz END,
		last_error      = $6,
		claim_token = NULL, claimed_at = NULL, lease_until = NULL
	WHERE id = $1 AND claim_token = $2
	RETURNING id
)
INSERT INTO {attempts} (delivery_id, number, started_at, duration_ns,
	status_code, response_body, error, interrupted)
SELECT id, $7, $8, $9, $10, $11, $12, $13 FROM upd`,
	}
	for _, p := range []*string{&q.insert, &q.insertNotify, &q.notify, &q.byKey, &q.get,
		&q.attempts, &q.list, &q.nextDue, &q.purge, &q.claim, &q.extend, &q.release,
		&q.record} {
		*p = r.Replace(*p)
	}
	return q
}
