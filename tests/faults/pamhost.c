/* A PAM application with a scripted, hostile conversation, for tests/faults_pam.rs.
 *
 *   pamhost SERVICE case USER CONV PASSWORD [CODE]
 *       one pam_start / pam_authenticate / (pam_acct_mgmt if authenticated) / pam_end;
 *       prints "authenticate=PAM_X acct_mgmt=PAM_Y" (acct_mgmt=- when not reached).
 *       USER: unset | empty | long (10 KiB) | nonutf8 | dotdot (../x) | name:NAME
 *       CONV: ok | wrong | null-resp | null-string | empty | huge (1 MiB) | badutf8 |
 *             nul (wrong prefix, NUL, then the password) | err | abort | buf |
 *             noconv (no conversation function) | code-err (password, then an error) |
 *             latin1 (the password with each U+FFFD replaced by the byte 0xE9)
 *   pamhost SERVICE loop N USER PASSWORD
 *       N rounds in this one process, each pam_start / pam_authenticate / pam_acct_mgmt
 *       / pam_end, cycling right password, wrong password, unknown user; prints
 *       "at=I rss_kb=R fds=F threads=T" at the start, after 10% of the rounds and at the
 *       end, then "mismatches=M" (rounds whose codes were not the expected ones).
 *   pamhost SERVICE threads T N USER PASSWORD
 *       T threads started together, each running N rounds at once with the others in
 *       this one process (its own handles, the same loaded module), cycling right
 *       password, wrong password (pam_end then frees the store kept on the handle),
 *       unknown user; prints "at=0 ..." before and "at=T*N ..." after (all joined),
 *       then "mismatches=M".
 *   pamhost SERVICE fork silent|plain USER PASSWORD
 *       pam_start / pam_authenticate, then fork(2): the child ends its copy of the handle
 *       (pam_end with PAM_DATA_SILENT, or without it: plain), prints "child fd_list=..."
 *       and _exits; the parent waits, then pam_acct_mgmt / pam_end on its handle and
 *       prints "authenticate=PAM_X acct_mgmt=PAM_Y child=exit:N|signal:N" and
 *       "parent fd_list=..." after its pam_end.
 *
 * Exit status 0 unless the harness itself failed (bad arguments, pam_start refused).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct script {
    const char *conv;
    const char *password;
    const char *code;
    int prompts; /* prompts answered so far in this transaction */
    int max_threads;
};

static int count_dir(const char *path) {
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Our own fds minus the one opendir holds while counting. */
static int open_fds(void) { return count_dir("/proc/self/fd") - 1; }

/* The answer to one prompt, as a malloc'd string (libpam's module frees it), or NULL. */
static char *answer(struct script *s, int style, int *err) {
    const char *c = s->conv;
    int first = s->prompts++ == 0;
    const char *right = (first || !s->code) ? s->password : s->code;
    *err = PAM_SUCCESS;
    if (style == PAM_ERROR_MSG || style == PAM_TEXT_INFO)
        return NULL;
    if (!strcmp(c, "ok"))
        return strdup(right);
    if (!strcmp(c, "wrong"))
        return strdup("definitely-not-the-password");
    if (!strcmp(c, "null-string"))
        return NULL;
    if (!strcmp(c, "empty"))
        return strdup("");
    if (!strcmp(c, "huge")) {
        size_t n = 1 << 20;
        char *p = malloc(n + 1);
        if (!p)
            abort();
        memset(p, 'a', n);
        p[n] = '\0';
        return p;
    }
    if (!strcmp(c, "badutf8"))
        return strdup("\xff\xfe\xc3\x28 not utf-8");
    if (!strcmp(c, "nul")) {
        /* "x", NUL, then the right answer: C sees only "x". */
        size_t n = strlen(right);
        char *p = malloc(n + 3);
        if (!p)
            abort();
        p[0] = 'x';
        p[1] = '\0';
        memcpy(p + 2, right, n + 1);
        return p;
    }
    if (!strcmp(c, "latin1")) {
        char *p = strdup(right), *q = p;
        if (!p)
            abort();
        for (const char *r = right; *r; q++) {
            if (!strncmp(r, "\xef\xbf\xbd", 3)) {
                *q = '\xe9';
                r += 3;
            } else {
                *q = *r++;
            }
        }
        *q = '\0';
        return p;
    }
    if (!strcmp(c, "code-err")) {
        if (first)
            return strdup(s->password);
        *err = PAM_CONV_ERR;
        return NULL;
    }
    *err = PAM_CONV_ERR;
    return NULL;
}

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
                        void *appdata) {
    struct script *s = appdata;
    int t = count_dir("/proc/self/task");
    if (t > s->max_threads)
        s->max_threads = t;
    if (!strcmp(s->conv, "err"))
        return PAM_CONV_ERR;
    if (!strcmp(s->conv, "abort"))
        return PAM_ABORT;
    if (!strcmp(s->conv, "buf"))
        return PAM_BUF_ERR;
    if (!strcmp(s->conv, "null-resp")) {
        *resp = NULL;
        return PAM_SUCCESS;
    }
    struct pam_response *r = calloc((size_t)n, sizeof *r);
    if (!r)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        int err;
        r[i].resp = answer(s, msg[i]->msg_style, &err);
        if (err != PAM_SUCCESS) {
            for (int j = 0; j <= i; j++)
                free(r[j].resp);
            free(r);
            return err;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

static const char *code_name(int rc) {
    switch (rc) {
#define C(x) case x: return #x;
        C(PAM_SUCCESS) C(PAM_OPEN_ERR) C(PAM_SYMBOL_ERR) C(PAM_SERVICE_ERR) C(PAM_SYSTEM_ERR)
        C(PAM_BUF_ERR) C(PAM_PERM_DENIED) C(PAM_AUTH_ERR) C(PAM_CRED_INSUFFICIENT)
        C(PAM_AUTHINFO_UNAVAIL) C(PAM_USER_UNKNOWN) C(PAM_MAXTRIES) C(PAM_NEW_AUTHTOK_REQD)
        C(PAM_ACCT_EXPIRED) C(PAM_SESSION_ERR) C(PAM_CRED_UNAVAIL) C(PAM_CRED_EXPIRED)
        C(PAM_CRED_ERR) C(PAM_NO_MODULE_DATA) C(PAM_CONV_ERR) C(PAM_AUTHTOK_ERR)
        C(PAM_AUTHTOK_RECOVERY_ERR) C(PAM_AUTHTOK_LOCK_BUSY) C(PAM_AUTHTOK_DISABLE_AGING)
        C(PAM_TRY_AGAIN) C(PAM_IGNORE) C(PAM_ABORT) C(PAM_AUTHTOK_EXPIRED)
        C(PAM_MODULE_UNKNOWN) C(PAM_BAD_ITEM) C(PAM_CONV_AGAIN) C(PAM_INCOMPLETE)
#undef C
    default:
        return "PAM_UNKNOWN_CODE";
    }
}

/* The PAM_USER given to pam_start (NULL: unset, libpam asks through the conversation). */
static char *user_of(const char *spec) {
    if (!strcmp(spec, "unset"))
        return NULL;
    if (!strcmp(spec, "empty"))
        return strdup("");
    if (!strcmp(spec, "nonutf8"))
        return strdup("al\xffice");
    if (!strcmp(spec, "dotdot"))
        return strdup("../x");
    if (!strcmp(spec, "long")) {
        char *p = malloc(10241);
        if (!p)
            abort();
        memset(p, 'u', 10240);
        p[10240] = '\0';
        return p;
    }
    if (!strncmp(spec, "name:", 5))
        return strdup(spec + 5);
    fprintf(stderr, "pamhost: unknown USER spec %s\n", spec);
    exit(2);
}

/* One transaction; returns 0, or -1 when pam_start failed. */
static int transaction(const char *service, const char *user, struct script *s, int *auth_rc,
                       int *acct_rc) {
    struct pam_conv conv = {conversation, s};
    if (!strcmp(s->conv, "noconv"))
        conv.conv = NULL;
    pam_handle_t *h = NULL;
    int rc = pam_start(service, user, &conv, &h);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pamhost: pam_start: %s\n", code_name(rc));
        return -1;
    }
    s->prompts = 0;
    *auth_rc = pam_authenticate(h, 0);
    *acct_rc = -1;
    if (*auth_rc == PAM_SUCCESS)
        *acct_rc = pam_acct_mgmt(h, 0);
    pam_end(h, *acct_rc == PAM_SUCCESS ? PAM_SUCCESS : *auth_rc);
    return 0;
}

/* "0:/dev/null,1:pipe:[..],..." : what each open descriptor is. */
static void fd_list(char *out, size_t size) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    size_t used = 0;
    out[0] = '\0';
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[300], target[256];
        ssize_t n;
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = '\0';
        used += (size_t)snprintf(out + used, size > used ? size - used : 0, "%s%s:%s",
                                 used ? "," : "", e->d_name, target);
    }
    closedir(d);
}

static void checkpoint(long at, const struct script *s) {
    char fds[4096];
    int t = count_dir("/proc/self/task");
    fd_list(fds, sizeof fds);
    printf("at=%ld rss_kb=%ld fds=%d threads=%d max_threads_in_conv=%d fd_list=%s\n", at,
           rss_kb(), open_fds(), t, s->max_threads, fds);
    fflush(stdout);
}

/* Round I of a loop: right password, wrong password or unknown user (TAG keeps unknown
 * names apart between threads); returns 1 when the codes were not the expected ones,
 * -1 when pam_start failed. */
static int round_of(const char *service, const char *user, const char *tag, long i,
                    struct script *s) {
    char unknown[64];
    int want_auth = PAM_SUCCESS, want_acct = PAM_SUCCESS, auth_rc, acct_rc;
    s->conv = "ok";
    if (i % 3 == 1) {
        s->conv = "wrong";
        want_auth = PAM_AUTH_ERR;
        want_acct = -1;
    } else if (i % 3 == 2) {
        snprintf(unknown, sizeof unknown, "nobody-%s%ld", tag, i);
        user = unknown;
        want_auth = PAM_USER_UNKNOWN;
        want_acct = -1;
    }
    if (transaction(service, user, s, &auth_rc, &acct_rc) != 0)
        return -1;
    if (auth_rc == want_auth && acct_rc == want_acct)
        return 0;
    fprintf(stderr, "%sround %ld (%s): authenticate=%s acct_mgmt=%s\n", tag, i, s->conv,
            code_name(auth_rc), acct_rc == -1 ? "-" : code_name(acct_rc));
    return 1;
}

struct worker {
    pthread_t id;
    pthread_barrier_t *start;
    const char *service, *user;
    long rounds, mismatches;
    int failed; /* pam_start refused */
    char tag[16];
    struct script s;
};

static void *work(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    for (long i = 0; i < w->rounds && !w->failed; i++) {
        int r = round_of(w->service, w->user, w->tag, i, &w->s);
        if (r < 0)
            w->failed = 1;
        else
            w->mismatches += r;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[2], "case")) {
        struct script s = {argv[4], argv[5], argc > 6 ? argv[6] : NULL, 0, 0};
        char *user = user_of(argv[3]);
        int auth_rc, acct_rc;
        if (transaction(argv[1], user, &s, &auth_rc, &acct_rc) != 0)
            return 1;
        printf("authenticate=%s acct_mgmt=%s threads_in_conv=%d\n", code_name(auth_rc),
               acct_rc == -1 ? "-" : code_name(acct_rc), s.max_threads);
        free(user);
        return 0;
    }
    if (argc == 6 && !strcmp(argv[2], "loop")) {
        long n = atol(argv[3]), mismatches = 0;
        struct script s = {"ok", argv[5], NULL, 0, 0};
        checkpoint(0, &s);
        for (long i = 0; i < n; i++) {
            int r = round_of(argv[1], argv[4], "", i, &s);
            if (r < 0)
                return 1;
            mismatches += r;
            if (i + 1 == n / 10 || i + 1 == n)
                checkpoint(i + 1, &s);
        }
        printf("mismatches=%ld\n", mismatches);
        return 0;
    }
    if (argc == 6 && !strcmp(argv[2], "fork")) {
        struct script s = {"ok", argv[5], NULL, 0, 0};
        struct pam_conv conv = {conversation, &s};
        pam_handle_t *h = NULL;
        char fds[4096];
        int auth_rc, acct_rc = -1, status = 0;
        int silent = !strcmp(argv[3], "silent") ? PAM_DATA_SILENT : 0;
        pid_t child;
        if (pam_start(argv[1], argv[4], &conv, &h) != PAM_SUCCESS)
            return 1;
        auth_rc = pam_authenticate(h, 0);
        fflush(stdout);
        child = fork();
        if (child < 0)
            return 1;
        if (child == 0) {
            pam_end(h, PAM_SUCCESS | silent);
            fd_list(fds, sizeof fds);
            printf("child fd_list=%s\n", fds);
            fflush(stdout);
            _exit(0);
        }
        if (waitpid(child, &status, 0) != child)
            return 1;
        if (auth_rc == PAM_SUCCESS)
            acct_rc = pam_acct_mgmt(h, 0);
        pam_end(h, acct_rc == PAM_SUCCESS ? PAM_SUCCESS : auth_rc);
        printf("authenticate=%s acct_mgmt=%s child=%s:%d\n", code_name(auth_rc),
               acct_rc == -1 ? "-" : code_name(acct_rc),
               WIFEXITED(status) ? "exit" : "signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        fd_list(fds, sizeof fds);
        printf("parent fd_list=%s\n", fds);
        return 0;
    }
    if (argc == 7 && !strcmp(argv[2], "threads")) {
        int t = atoi(argv[3]);
        long n = atol(argv[4]), mismatches = 0;
        struct script all = {"ok", argv[6], NULL, 0, 0};
        struct worker *w = calloc((size_t)(t > 0 ? t : 1), sizeof *w);
        pthread_barrier_t start;
        int failed = 0;
        if (t < 1 || !w || pthread_barrier_init(&start, NULL, (unsigned)t) != 0)
            return 2;
        checkpoint(0, &all);
        for (int k = 0; k < t; k++) {
            w[k] = (struct worker){.start = &start, .service = argv[1], .user = argv[5],
                                   .rounds = n};
            w[k].s = (struct script){"ok", argv[6], NULL, 0, 0};
            snprintf(w[k].tag, sizeof w[k].tag, "t%d-", k);
            if (pthread_create(&w[k].id, NULL, work, &w[k]) != 0)
                return 1;
        }
        for (int k = 0; k < t; k++) {
            pthread_join(w[k].id, NULL);
            mismatches += w[k].mismatches;
            failed |= w[k].failed;
            if (w[k].s.max_threads > all.max_threads)
                all.max_threads = w[k].s.max_threads;
        }
        pthread_barrier_destroy(&start);
        free(w);
        checkpoint((long)t * n, &all);
        printf("mismatches=%ld\n", mismatches);
        return failed;
    }
    fprintf(stderr, "usage: pamhost SERVICE case USER CONV PASSWORD [CODE]\n"
                    "       pamhost SERVICE loop N USER PASSWORD\n"
                    "       pamhost SERVICE threads T N USER PASSWORD\n"
                    "       pamhost SERVICE fork silent|plain USER PASSWORD\n");
    return 2;
}
