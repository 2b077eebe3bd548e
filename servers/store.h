/* store.h -- the message store behind the mock IMAP, POP3 and SMTP servers.
 *
 * Model: accounts -> mailboxes -> messages. A mailbox has a name (hierarchy delimiter '/',
 * "INBOX" case-insensitive), attributes (special-use, \Noselect, subscribed), UIDVALIDITY,
 * UIDNEXT, a modification sequence (HIGHESTMODSEQ) and a change counter, up to
 * STORE_MAX_KEYWORDS keywords, and messages in UID order. A message has a UID, system flags,
 * keywords, an internal date, its bytes (CRLF line ends) and its cached MIME part tree
 * (proto/mime.h, parsed leniently once when the message arrives).
 *
 * One process, one event loop: no locking. Several sessions share one store and see each
 * other's changes. Each session that selects a mailbox opens a store_view: its own sequence
 * numbers (IMAP sequence numbers are per session and may only change when the session is told
 * with EXPUNGE), its \Recent set, and what it has already been told. Sessions poll
 * store_mailbox_changes() (a counter, cheap) and call store_view_sync() to learn EXPUNGE,
 * EXISTS, RECENT and flag changes.
 *
 * Persistence (optional, store_config.spool): a Maildir++ spool, one directory per account:
 *   SPOOL/<account>/{cur,new,tmp}            INBOX
 *   SPOOL/<account>/.<name>/{cur,new,tmp}    other mailboxes; '/' in a name becomes '.', and
 *                                             '.', '%' and control bytes are written %XX
 *   .../mailrig-uidlist                      UIDVALIDITY, UIDNEXT, keywords, attributes and
 *                                             file name -> UID, so restarts keep UIDs
 * Message files are named <time>.M<usec>P<pid>Q<n>.<host>, flags in the ":2,DFRST" suffix
 * (keywords as letters a..z), the internal date as the file's mtime. A message is delivered by
 * writing tmp/ + fsync, recording its UID (append + fsync), renaming into new/ (cur/ when it
 * has flags) and fsyncing that directory; only then does the call return STORE_OK, so nothing
 * acknowledged is lost on a crash. Flag changes rename the file (no fsync: a lost flag change
 * is not a lost message). An existing spool is loaded by store_account_add(). MODSEQs are not
 * persisted: a loaded mailbox restarts its HIGHESTMODSEQ from the clock (now << 20), above
 * anything handed out before, so CONDSTORE clients at worst refetch flags.
 *
 * Memory: every message lives in memory. The bound is
 *   sum(message sizes + nparts * sizeof(mime_part)) <= max_total_bytes (default 256 MiB),
 * each message <= max_message_size (default 64 MiB) and <= max_parts parts, plus about 100
 * bytes per message, 5 bytes per message per open view, and small per-mailbox tables.
 * COPY shares the bytes and the part tree of a message (reference counted), so copies cost
 * only their ~100 bytes.
 *
 * Errors: functions return store_err; store_errmsg() then says what failed, where (file paths,
 * file:line for a bad uidlist) and why (strerror). No function aborts on bad input or I/O.
 */
#ifndef MAILRIG_SERVERS_STORE_H
#define MAILRIG_SERVERS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/mime.h"

typedef enum store_err {
    STORE_OK = 0,
    STORE_E_NOMEM,      /* out of memory */
    STORE_E_EXISTS,     /* the account or mailbox already exists */
    STORE_E_NOTFOUND,   /* no such account, mailbox or message */
    STORE_E_NAME,       /* an invalid account, mailbox or keyword name */
    STORE_E_TOOBIG,     /* a message over max_message_size (SMTP 552, IMAP [TOOBIG]) */
    STORE_E_QUOTA,      /* max_total_bytes reached (IMAP [OVERQUOTA], SMTP 452) */
    STORE_E_LIMIT,      /* a count limit: mailboxes, messages, keywords, UIDs */
    STORE_E_NOTALLOWED, /* delete INBOX, delete a \Noselect parent, use a \Noselect mailbox,
                           rename onto a descendant */
    STORE_E_IO,         /* the spool failed: disk full, permissions, ... */
    STORE_E_CORRUPT,    /* the spool holds something we cannot read */
} store_err;

/* A short English name of an error code. */
const char *store_strerror(store_err e);

typedef struct store store;
typedef struct store_account store_account;
typedef struct store_mailbox store_mailbox;
typedef struct store_view store_view;

/* ------------------------------------------------------------------------------------------ */
/* The store */

typedef struct store_config {
    size_t max_message_size;  /* default 64 MiB */
    size_t max_total_bytes;   /* default 256 MiB, see "Memory" above */
    size_t max_parts;         /* MIME parts kept per message (default 1000; more are left in
                                 their parent, see mime.h MR_LENIENT) */
    size_t max_messages;      /* per mailbox (default 1,000,000) */
    size_t max_mailboxes;     /* per account (default 1000) */
    size_t max_accounts;      /* default 1000 */
    const char *spool;        /* Maildir spool directory, or NULL for memory only. Created if
                                 missing (its parent must exist). Copied. */
    const char *hostname;     /* host part of spool file names (default "mailrig"). Copied. */
    uint32_t uidvalidity;     /* first UIDVALIDITY handed out, then +1 per new mailbox;
                                 0 = from the clock (never below the last one handed out) */
    /* The clock (INTERNALDATE of deliveries, UIDVALIDITY); NULL = time(). */
    time_t (*now)(void *ctx);
    void *now_ctx;
    /* Warnings (skipped spool files and such), one line each without newline; NULL = none. */
    void (*log)(void *ctx, const char *msg);
    void *log_ctx;
    /* Durability trace for tests: called with "write", "fsync", "rename", "fsync-dir",
     * "uidlist" and the path, right after each step of a delivery succeeded. NULL = none. */
    void (*trace)(void *ctx, const char *step, const char *path);
    void *trace_ctx;
} store_config;

/* Fill cfg with the defaults above. */
void store_config_default(store_config *cfg);

/* Create a store. cfg is copied (NULL = defaults). With a spool, the directory is created if
 * needed and must be a writable directory: STORE_E_IO otherwise. *out is NULL on failure;
 * store_errmsg(NULL) then gives the reason (kept in a static buffer until the next failing
 * store_open()). */
store_err store_open(const store_config *cfg, store **out);

/* Free everything: accounts, mailboxes, messages, views (open views become invalid). */
void store_close(store *st);

/* The message of the last failed call on st: what, where, why. Never NULL. */
const char *store_errmsg(const store *st);

/* Bytes of messages held (the quantity max_total_bytes bounds). */
size_t store_bytes(const store *st);

/* ------------------------------------------------------------------------------------------ */
/* Accounts */

/* Add an account (1..128 bytes of letters, digits and "._-+@", not starting with '.'), with
 * an INBOX. With a spool, an existing SPOOL/<name> is loaded (mailboxes, messages, UIDs,
 * flags); *loaded (may be NULL) says so: seed messages only into accounts that were not.
 * STORE_E_EXISTS if added before; STORE_E_CORRUPT / STORE_E_IO when the spool cannot be read
 * (store_errmsg() has the file and line). The account lives until store_close(). */
store_err store_account_add(store *st, const char *name, store_account **out, int *loaded);

/* The account called name (exact match), or NULL. */
store_account *store_account_find(const store *st, const char *name);

const char *store_account_name(const store_account *a);

/* ------------------------------------------------------------------------------------------ */
/* Mailboxes */

/* Mailbox attributes: RFC 6154 special-use, RFC 3501 \Noselect, subscription. */
enum store_mailbox_attr {
    STORE_MB_ALL = 1 << 0,
    STORE_MB_ARCHIVE = 1 << 1,
    STORE_MB_DRAFTS = 1 << 2,
    STORE_MB_FLAGGED = 1 << 3,
    STORE_MB_JUNK = 1 << 4,
    STORE_MB_SENT = 1 << 5,
    STORE_MB_TRASH = 1 << 6,
    STORE_MB_SPECIAL_USE = 0x7f, /* all of the above */
    STORE_MB_NOSELECT = 1 << 8,
    STORE_MB_SUBSCRIBED = 1 << 9,
};

/* The IMAP name of a special-use bit ("\\Sent"), or NULL for anything else. */
const char *store_special_use_name(unsigned attr);

/* Maximum mailbox name length in bytes; also bounded by what fits a Maildir directory name. */
#define STORE_MAX_NAME 255

/* Create a mailbox. name: '/'-separated, no empty components, no leading or trailing '/',
 * no NUL, CR, LF, at most STORE_MAX_NAME bytes; "inbox" in any case means INBOX. Missing
 * superiors are created too (RFC 3501 6.3.3). attrs: special-use bits (others ignored).
 * STORE_E_EXISTS, STORE_E_NAME, STORE_E_LIMIT, STORE_E_IO. *out (may be NULL) gets the
 * mailbox, valid until it is deleted. */
store_err store_mailbox_create(store *st, store_account *a, const char *name, unsigned attrs,
                               store_mailbox **out);

/* Delete a mailbox (RFC 3501 6.3.4): its messages go; a mailbox with inferiors stays as a
 * \Noselect name. Views on it are detached (store_view_mailbox() becomes NULL).
 * STORE_E_NOTFOUND, STORE_E_NOTALLOWED (INBOX, or \Noselect with inferiors), STORE_E_IO. */
store_err store_mailbox_delete(store *st, store_account *a, const char *name);

/* Rename a mailbox and its inferiors (RFC 3501 6.3.5), keeping UIDVALIDITY, UIDs and views.
 * Renaming INBOX moves its messages to a new mailbox `to` and leaves INBOX empty.
 * STORE_E_NOTFOUND, STORE_E_EXISTS, STORE_E_NAME, STORE_E_NOTALLOWED (onto itself or an
 * inferior), STORE_E_IO. */
store_err store_mailbox_rename(store *st, store_account *a, const char *from, const char *to);

/* Set or clear the subscription (RFC 3501 6.3.6). STORE_E_NOTFOUND, STORE_E_IO. */
store_err store_mailbox_subscribe(store *st, store_account *a, const char *name, int on);

/* The mailbox called name (INBOX case-insensitive), or NULL. */
store_mailbox *store_mailbox_find(const store_account *a, const char *name);

const char *store_mailbox_name(const store_mailbox *mb);
unsigned store_mailbox_attrs(const store_mailbox *mb);
uint32_t store_mailbox_uidvalidity(const store_mailbox *mb);
uint32_t store_mailbox_uidnext(const store_mailbox *mb);
uint64_t store_mailbox_highestmodseq(const store_mailbox *mb);

/* A counter bumped by every change to the mailbox (append, expunge, flags, delete). Sessions
 * compare it with the value they saw to decide whether store_view_sync() has anything. */
uint64_t store_mailbox_changes(const store_mailbox *mb);

/* Number of messages, and message i (0-based, UID order), or NULL when out of range. */
uint32_t store_mailbox_count(const store_mailbox *mb);
struct store_msg *store_mailbox_msg(const store_mailbox *mb, uint32_t i);

/* The message with this UID, or NULL (binary search). */
struct store_msg *store_mailbox_by_uid(const store_mailbox *mb, uint32_t uid);

/* STATUS (RFC 3501 6.3.10, RFC 8438 SIZE). recent counts messages no read-write view has
 * claimed yet; first_unseen is the 1-based position of the first message without \Seen (for
 * SELECT's [UNSEEN n]), 0 if none. Costs one pass over the messages. */
typedef struct store_status {
    uint32_t messages, recent, unseen, first_unseen, uidnext, uidvalidity;
    uint64_t size, highestmodseq;
} store_status;
void store_mailbox_status(const store_mailbox *mb, store_status *s);

/* LIST (RFC 3501 6.3.8): call fn for every mailbox of the account whose name matches pattern
 * ('*' matches anything, '%' anything but '/'; "INBOX" matched case-insensitively), in name
 * order with INBOX first. attrs has the mailbox attributes plus STORE_LIST_HAS_CHILDREN or
 * STORE_LIST_HAS_NO_CHILDREN (RFC 3348). Returns the number of matches. The reference name
 * is the caller's business: pass reference + pattern. Patterns over 1024 bytes match nothing. */
enum { STORE_LIST_HAS_CHILDREN = 1 << 12, STORE_LIST_HAS_NO_CHILDREN = 1 << 13 };
typedef void (*store_list_fn)(void *ctx, const store_mailbox *mb, unsigned attrs);
size_t store_list(const store_account *a, const char *pattern, store_list_fn fn, void *ctx);

/* The LIST wildcard match on its own: 1 if name matches pattern, else 0. O(len(pattern) *
 * len(name)) time, no allocation; names over STORE_MAX_NAME and patterns over 1024 bytes never
 * match. */
int store_pattern_match(const char *pattern, const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Keywords (IMAP flags without a backslash; at most 26 per mailbox: Maildir letters a..z) */

#define STORE_MAX_KEYWORDS 26

/* The index of keyword name[0..len) in mb, adding it when create is set. Returns 0..25, or a
 * negative store_err: -STORE_E_NOTFOUND (not there, create == 0), -STORE_E_LIMIT (table full),
 * -STORE_E_NAME (not an IMAP atom, or starts with '\\', or over 64 bytes), -STORE_E_IO.
 * Names compare case-insensitively (RFC 3501 2.3.2). */
int store_keyword(store *st, store_mailbox *mb, const char *name, size_t len, int create);

/* Keyword i of mb, or NULL; and how many mb has (for FLAGS and PERMANENTFLAGS). */
const char *store_keyword_name(const store_mailbox *mb, unsigned i);
unsigned store_keyword_count(const store_mailbox *mb);

/* ------------------------------------------------------------------------------------------ */
/* Messages */

/* System flags (RFC 3501 2.3.2). \Recent is not stored: see store_view_recent(). */
enum store_flag {
    STORE_F_SEEN = 1 << 0,
    STORE_F_ANSWERED = 1 << 1,
    STORE_F_FLAGGED = 1 << 2,
    STORE_F_DELETED = 1 << 3,
    STORE_F_DRAFT = 1 << 4,
    STORE_F_ALL = 0x1f,
};

/* A stored message. Read-only for callers; fields marked private are not for callers at all.
 * A pointer stays valid until the message is expunged or its mailbox deleted: do not keep one
 * across calls that can expunge (any store_view_expunge(), store_move(), mailbox delete or
 * rename of INBOX), nor across event loop iterations (another session may expunge). */
typedef struct store_msg {
    uint32_t uid;
    uint32_t flags;          /* STORE_F_* */
    uint32_t keywords;       /* bit i set: keyword i of the mailbox */
    uint64_t modseq;         /* RFC 7162 MODSEQ: the mailbox modseq of its last change */
    int64_t internal_date;   /* INTERNALDATE, seconds since the epoch */
    int32_t internal_zone;   /* its zone for display, minutes east of UTC */
    int64_t sent_date;       /* the Date: header as seconds since the epoch (SENT* search, SORT),
                                INT64_MIN when absent or unreadable */
    int32_t sent_day;        /* that date as written, yyyymmdd (RFC 3501 SENTBEFORE ignores the
                                time and zone), 0 when absent */
    const char *data;        /* the message, CRLF line ends, not NUL-terminated */
    size_t size;             /* RFC822.SIZE */
    const mime_part *parts;  /* its MIME part tree, parts[0] the root; slices point into data */
    uint32_t nparts;
    /* private */
    struct store_blob *blob_;
    char *file_;             /* Maildir base name (no flags suffix), NULL in memory */
    int in_cur_;             /* the file is in cur/ (else new/) */
} store_msg;

/* Options of store_append(); NULL = no flags, internal date now. */
typedef struct store_append_opts {
    uint32_t flags;         /* STORE_F_* */
    uint32_t keywords;      /* indexes from store_keyword() on the target mailbox */
    int has_date;           /* internal_date/internal_zone are set (IMAP APPEND date-time) */
    int64_t internal_date;
    int32_t internal_zone;
} store_append_opts;

/* Append a message (IMAP APPEND). Bare LF line ends are stored as CRLF; the part tree is
 * parsed leniently. With a spool the message is on disk (fsynced) before this returns
 * STORE_OK. *uid (may be NULL) gets its UID. STORE_E_TOOBIG, STORE_E_QUOTA, STORE_E_LIMIT
 * (messages or UIDs), STORE_E_NOTALLOWED (\Noselect), STORE_E_NOMEM, STORE_E_IO. */
store_err store_append(store *st, store_mailbox *mb, const char *data, size_t len,
                       const store_append_opts *opts, uint32_t *uid);

/* SMTP delivery: append to the INBOX of account (by name), no flags, internal date now.
 * STORE_E_NOTFOUND for an unknown account, else as store_append(). */
store_err store_deliver(store *st, const char *account, const char *data, size_t len,
                        uint32_t *uid);

typedef enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE } store_flag_op;

/* Change a message's flags and keywords (IMAP STORE FLAGS / +FLAGS / -FLAGS). *changed (may
 * be NULL) says whether anything changed; only a change bumps modseq and the change counter.
 * actor (may be NULL) is the view of the session making the change: if it was up to date it
 * stays so, and is not told of its own change again by store_view_sync(). STORE_E_IO when
 * the spool rename fails (the flags are then unchanged). */
store_err store_set_flags(store *st, store_mailbox *mb, store_msg *m, store_flag_op op,
                          uint32_t flags, uint32_t keywords, store_view *actor, int *changed);

/* Copy messages of src to dst (IMAP COPY), keeping flags, keywords and internal dates;
 * keywords are matched by name, added to dst as needed. uids (may be NULL, else n entries)
 * gets the new UIDs in order (COPYUID). All or nothing: on failure dst is as before.
 * STORE_E_QUOTA is not possible (copies share bytes); STORE_E_LIMIT, STORE_E_NOTALLOWED,
 * STORE_E_IO, STORE_E_NOMEM. */
store_err store_copy(store *st, store_mailbox *src, store_msg *const *msgs, size_t n,
                     store_mailbox *dst, uint32_t *uids);

/* Bytes of the header plus the first `lines` lines of the body (POP3 TOP, RFC 1939). */
size_t store_msg_top(const store_msg *m, size_t lines);

/* POP3 UIDL (RFC 1939 7): "<uidvalidity>.<uid>", unique and stable across restarts.
 * Writes a NUL-terminated string; returns its length, or -1 if cap is too small (22 is
 * always enough). */
int store_msg_uidl(const store_mailbox *mb, const store_msg *m, char *out, size_t cap);

/* ------------------------------------------------------------------------------------------ */
/* Views: a session's picture of a selected mailbox */

/* Open a view (IMAP SELECT / EXAMINE, a POP3 maildrop). A read-write view claims the
 * messages that are \Recent (RFC 3501 2.3.2: recent for the first session that sees them);
 * readonly views see them as recent without claiming. STORE_E_NOTALLOWED on \Noselect. */
store_err store_view_open(store *st, store_mailbox *mb, int readonly, store_view **out);

/* Close a view (deselect). v may be NULL. */
void store_view_close(store_view *v);

/* The mailbox, or NULL when it was deleted (the session should leave the selected state). */
store_mailbox *store_view_mailbox(const store_view *v);

/* The number of messages the session knows of (its EXISTS). */
uint32_t store_view_count(const store_view *v);

/* Message `seq` (1-based) of the view, or NULL when out of range or expunged by another
 * session since (the session has not been told yet: RFC 3501 allows NO or an empty FETCH). */
store_msg *store_view_msg(const store_view *v, uint32_t seq);

/* The UID at seq (also for messages expunged meanwhile), 0 when out of range. */
uint32_t store_view_uid(const store_view *v, uint32_t seq);

/* The first seq whose UID is >= uid, or count + 1 when none (for UID ranges; binary search).
 * A UID set lo:hi covers seqs [store_view_seq_from_uid(lo), store_view_seq_from_uid(hi + 1)). */
uint32_t store_view_seq_from_uid(const store_view *v, uint32_t uid);

/* Is message seq \Recent for this view? And how many are (RECENT). */
int store_view_recent(const store_view *v, uint32_t seq);
uint32_t store_view_recent_count(const store_view *v);

/* What store_view_sync() reports, in this order: every expunge (seq numbers as the session
 * must send them, each counted after the previous ones were removed), then flag changes
 * (final seqs), then the new EXISTS and RECENT counts if messages arrived. Any callback may
 * be NULL. */
typedef struct store_view_events {
    void (*expunge)(void *ctx, uint32_t seq);
    void (*flags)(void *ctx, uint32_t seq, const store_msg *m);
    void (*exists)(void *ctx, uint32_t count);
    void (*recent)(void *ctx, uint32_t count);
} store_view_events;

/* Bring the view up to date with its mailbox. allow_expunge = 0 while the session must not
 * send EXPUNGE (during FETCH, STORE, SEARCH; RFC 3501 7.4.1): expunged messages then stay in
 * the view as gaps (store_view_msg() returns NULL) until a later sync allows them. Returns
 * the number of events reported; cheap (no pass) when nothing changed. -STORE_E_NOTFOUND when
 * the mailbox was deleted. */
int store_view_sync(store_view *v, int allow_expunge, const store_view_events *ev, void *ctx);

/* Which messages store_view_expunge() removes; NULL means those with \Deleted. */
typedef int (*store_msg_pred)(void *ctx, const store_msg *m);

/* Expunge the messages of v's mailbox that pred accepts (IMAP EXPUNGE, UID EXPUNGE with a
 * pred on UIDs, CLOSE with ev = NULL, POP3 QUIT with a pred on deleted UIDs), then sync v
 * with expunges allowed, reporting through ev. Other views learn at their next sync.
 * STORE_E_IO when a spool file cannot be removed (messages expunged before that stay
 * expunged); STORE_E_NOTFOUND when the mailbox is gone; STORE_E_NOTALLOWED on a readonly
 * view. */
store_err store_view_expunge(store *st, store_view *v, store_msg_pred pred, void *pctx,
                             const store_view_events *ev, void *ectx);

/* IMAP MOVE (RFC 6851): copy msgs (messages of v's mailbox) to dst, then expunge them from
 * v's mailbox, reporting through ev. uids as in store_copy(). Nothing is expunged if the copy
 * fails. */
store_err store_move(store *st, store_view *v, store_msg *const *msgs, size_t n,
                     store_mailbox *dst, uint32_t *uids, const store_view_events *ev,
                     void *ectx);

/* ------------------------------------------------------------------------------------------ */
/* SEARCH (RFC 3501 6.4.4): one key at a time; the session combines keys (AND, OR, NOT),
 * resolves sequence and UID sets, and RECENT/NEW/OLD with store_view_recent(). */

typedef enum store_key_kind {
    STORE_KEY_ALL,
    STORE_KEY_FLAGS,      /* all of `flags` set (ANSWERED, DELETED, DRAFT, FLAGGED, SEEN) */
    STORE_KEY_NOFLAGS,    /* none of `flags` set (UNANSWERED, UNSEEN, ...) */
    STORE_KEY_KEYWORD,    /* keyword index `keyword` set */
    STORE_KEY_UNKEYWORD,
    STORE_KEY_BEFORE,     /* internal date (its own zone, time ignored) before `day` */
    STORE_KEY_ON,
    STORE_KEY_SINCE,      /* on or after `day` */
    STORE_KEY_SENTBEFORE, /* the Date: header's date as written, against `day` */
    STORE_KEY_SENTON,
    STORE_KEY_SENTSINCE,
    STORE_KEY_LARGER,     /* RFC822.SIZE > size */
    STORE_KEY_SMALLER,    /* RFC822.SIZE < size */
    STORE_KEY_HEADER,     /* a top-level header field `field` containing `text` (an empty
                             text matches any message that has the field) */
    STORE_KEY_BODY,       /* the body (after the header) contains `text` */
    STORE_KEY_TEXT,       /* the header or the body contains `text` */
} store_key_kind;

/* One search key. Strings are not copied. Text matching is an ASCII case-insensitive
 * substring search over the raw bytes (encoded words and base64/quoted-printable bodies are
 * not decoded), O(message + text) time. */
typedef struct store_key {
    store_key_kind kind;
    uint32_t flags;
    int keyword;
    int32_t day;           /* yyyymmdd */
    uint64_t size;
    const char *field;     /* NUL-terminated */
    const char *text;
    size_t text_len;
} store_key;

/* Does m match k? 1 or 0. A STORE_KEY_KEYWORD with a negative keyword never matches
 * (a keyword the mailbox does not have), its UNKEYWORD always does. */
int store_msg_match(const store_msg *m, const store_key *k);

/* ------------------------------------------------------------------------------------------ */
/* Seeding */

/* Append the messages in files (a whitespace-separated list of file names under dir, each
 * optionally followed by ":FLAGS" in Maildir letters, e.g. "welcome.eml:S report.eml:SF")
 * to mailbox (created if missing) of account a. The internal date is the message's Date:
 * header (or now). Does nothing and returns STORE_OK when the account was loaded from an
 * existing spool (its mail is already there). STORE_E_NOTFOUND / STORE_E_IO for a missing or
 * unreadable file (store_errmsg() names it), or any store_append() error. */
store_err store_seed(store *st, store_account *a, const char *mailbox, const char *dir,
                     const char *files);

#endif
