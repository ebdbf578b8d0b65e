/* The state journal: STATE_DIR/state.json, the agent's single source of truth.
 * Written atomically and durably (ef_fs_write_atomic). See docs/state.md. */
#ifndef EDGEFLIP_STATE_H
#define EDGEFLIP_STATE_H

#include "edgeflip/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EF_STATE_FILE    "state.json"
#define EF_STATE_VERSION 1

/* Caps on what a journal may hold; a file past them is corrupt. */
#define EF_STATE_MAX_BYTES      (1024 * 1024)
#define EF_STATE_MAX_STRING     4096
#define EF_STATE_MAX_SERVICES   256
#define EF_STATE_MAX_PORTS      64
#define EF_STATE_MAX_HISTORY    1000
#define EF_STATE_MAX_QUARANTINE 100
#define EF_STATE_MAX_REFUSALS   256

/* Phases of a deploy, in order; every change is journaled before acting. */
typedef enum {
	EF_PHASE_IDLE = 0,
	EF_PHASE_PULL,
	EF_PHASE_STAGE,
	EF_PHASE_HEALTH,
	EF_PHASE_FLIP,
	EF_PHASE_SOAK,
	EF_PHASE_COMMIT,
	EF_PHASE_ROLLBACK,
} ef_phase;

typedef struct {
	char *name;
	char *container_id;
	char *spec_hash;
	char *image;
	char *slot;          /* "blue" | "green" */
	char **public_ports; /* "tcp:8080" ... routed to this container */
	char *endpoint;      /* "127.0.0.1:PORT" traffic goes to (blue/green) */
	/* The key whose signature on `image` was verified ("SHA256:<base64>" of
	 * the public key, [trust] image_keys); NULL: not checked. Absent from
	 * journals written before it existed. */
	char *image_signer;
} ef_state_service;

typedef struct {
	char revision[EF_OID_HEX];
	char *result; /* "deployed" | "rolled-back" | "rejected" | "failed" */
	char *reason;
	int64_t at; /* unix seconds */
} ef_state_event;

/* A canary in progress (docs/state.md): journaled at every step, so status
 * shows it and recovery knows a weight was set (it flips back to blue). */
typedef struct {
	bool active;
	unsigned step;  /* 1-based */
	unsigned steps; /* how many */
	unsigned weight;
	uint64_t requests, errors; /* green's, since the canary began */
} ef_state_canary;

typedef struct {
	int version;
	/* What runs now. */
	char revision[EF_OID_HEX]; /* "" before the first deploy */
	char *signer;              /* principal or OpenPGP fingerprint; "" if unverified */
	int64_t deployed_at;
	ef_state_service *services;
	size_t nservices;
	/* An unfinished deploy (phase != IDLE). */
	ef_phase phase;
	char target[EF_OID_HEX];
	char *target_signer;
	ef_state_service *staged; /* green instances created so far */
	size_t nstaged;
	ef_state_canary canary; /* within an unfinished deploy */
	/* The previous revision, for `edgeflip rollback`. */
	char previous[EF_OID_HEX];
	/* Outcome of the last pass and the last rollback. */
	int64_t last_poll;
	char *last_result;
	char *last_error;
	ef_state_event last_rollback;
	/* Recent events, newest first, capped by [deploy] history. */
	ef_state_event *history;
	size_t nhistory;
	/* Commits that failed to deploy: not retried until a newer one arrives. */
	ef_state_event *quarantine;
	size_t nquarantine;
	/* Refusals by trust or policy of the last pass (shown by status). */
	char **refusals;
} ef_state;

void ef_state_init(ef_state *st);
void ef_state_dispose(ef_state *st);
/* Loads STATE_DIR/state.json. A missing file gives an empty state (0). A
 * corrupt file is moved aside (state.json.corrupt-TIME), logged, and
 * EF_EINVALID returned with an empty state, so the caller can rebuild from
 * the engine's labels. */
int ef_state_load(ef_state *st, const char *state_dir);
/* Writes the journal durably, unless the file already holds the same state
 * with only last_poll different: then nothing is written (a no-change poll
 * touches no disk). Creates state_dir (0700) when missing. */
int ef_state_save(const ef_state *st, const char *state_dir);
/* Serialization, also for `status --json`. `out` is freed with free(). */
int ef_state_to_json(char **out, const ef_state *st);
/* Strict: wrong types, unknown or repeated keys, bad commit ids and caps give
 * EF_EINVALID naming the JSON path ("$.services[1].slot: ..."). ef_state_load
 * and ef_state_from_json initialize `st` themselves; on failure it is left
 * empty. The caller disposes it in every case. */
int ef_state_from_json(ef_state *st, const char *json, size_t len);
/* Same contents (compares the serialized forms, last_poll included). */
bool ef_state_equal(const ef_state *a, const ef_state *b);

const char *ef_phase_name(ef_phase p);
bool ef_state_is_quarantined(const ef_state *st, const char *revision);
/* Adds `revision` once (again: refreshes reason and time), newest first,
 * dropping the oldest past EF_STATE_MAX_QUARANTINE. */
int ef_state_quarantine(ef_state *st, const char *revision, const char *reason);
/* Sets the kind of a quarantine entry (its "result"): signature,
 * anti-rollback, not-before, manifest, policy, health, deploy, operator. */
int ef_state_quarantine_kind(ef_state *st, const char *revision, const char *kind);
/* Lifts the quarantine of entries whose revision starts with `revision`
 * (NULL: all) and whose kind is `kind` (NULL: any). Returns how many. */
int ef_state_unquarantine(ef_state *st, const char *revision, const char *kind);
/* Puts an event first in history and keeps at most `cap` (at most
 * EF_STATE_MAX_HISTORY; 0 keeps none). */
int ef_state_add_history(ef_state *st, const char *revision, const char *result, const char *reason,
                         unsigned cap);
ef_state_service *ef_state_find_service(ef_state *st, const char *name);
void ef_state_service_dispose(ef_state_service *s);
int ef_state_service_copy(ef_state_service *dst, const ef_state_service *src);
void ef_state_clear_services(ef_state_service **v, size_t *n);

#endif
