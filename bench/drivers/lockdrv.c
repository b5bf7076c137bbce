/* lockdrv: drives C liblockfile for the nfslease benchmark harness.
 *
 *   lockdrv cycle PATH [N]   N cycles of lockfile_create(PATH, 0, 0) +
 *                            lockfile_remove(PATH), prints the ns they took;
 *                            without N, reads a count per line on stdin and
 *                            answers each with the ns of that many cycles
 *   lockdrv handoff PATH HOLD_NS IDLE_NS START_NS END_NS
 *                            from START to END (CLOCK_MONOTONIC): acquire,
 *                            hold, release, idle; prints "wait acq rel" per
 *                            acquisition ("wait 0 0": still waiting at the
 *                            end). Waits are lockfile_create(PATH, 1, 0):
 *                            one try, liblockfile's 5 s sleep, one more try.
 *   lockdrv hold PATH        acquires with L_PID, prints "held NS", sleeps
 *   lockdrv wait PATH        prints "start NS", acquires with L_PID
 *                            (a dead holder's pid makes its lock stale),
 *                            prints "acq NS", releases
 */
#define _GNU_SOURCE
#include <errno.h>
#include <lockfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long mono(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_until(long long ns) {
	struct timespec t = {ns / 1000000000LL, ns % 1000000000LL};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
	}
}

static void die(const char *what, const char *path, int r) {
	fprintf(stderr, "lockdrv: %s %s: result %d, errno %s\n", what, path, r, strerror(errno));
	exit(1);
}

static long long cycles(const char *p, long n) {
	long long t = mono();
	for (long i = 0; i < n; i++) {
		int r = lockfile_create(p, 0, 0);
		if (r != L_SUCCESS) die("lockfile_create", p, r);
		if (lockfile_remove(p) != 0) die("lockfile_remove", p, -1);
	}
	return mono() - t;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: lockdrv cycle|handoff|hold|wait PATH ...\n");
		return 2;
	}
	const char *mode = argv[1], *p = argv[2];
	if (!strcmp(mode, "cycle")) {
		if (argc > 3) {
			printf("%lld\n", cycles(p, atol(argv[3])));
			return 0;
		}
		char line[64];
		while (fgets(line, sizeof line, stdin)) {
			long n = atol(line);
			if (n <= 0) break;
			printf("%lld\n", cycles(p, n));
			fflush(stdout);
		}
		return 0;
	}
	if (!strcmp(mode, "handoff") && argc == 7) {
		long long hold = atoll(argv[3]), idle = atoll(argv[4]), start = atoll(argv[5]), end = atoll(argv[6]);
		size_t n = 0, cap = 1024;
		long long *rec = malloc(cap * 3 * sizeof *rec);
		sleep_until(start);
		long long ws = -1;
		for (;;) {
			long long now = mono();
			if (now >= end) break;
			if (ws < 0) ws = now;
			int r = lockfile_create(p, 1, 0);
			if (r == L_MAXTRYS) continue;
			if (r != L_SUCCESS) die("lockfile_create", p, r);
			long long acq = mono();
			sleep_until(acq + hold);
			long long rel = mono();
			if (lockfile_remove(p) != 0) die("lockfile_remove", p, -1);
			if (n == cap) {
				cap *= 2;
				rec = realloc(rec, cap * 3 * sizeof *rec);
			}
			rec[3 * n] = ws, rec[3 * n + 1] = acq, rec[3 * n + 2] = rel;
			n++;
			ws = -1;
			if (idle > 0) sleep_until(mono() + idle);
		}
		for (size_t i = 0; i < n; i++) printf("%lld %lld %lld\n", rec[3 * i], rec[3 * i + 1], rec[3 * i + 2]);
		if (ws >= 0) printf("%lld 0 0\n", ws); /* still waiting at the end */
		return 0;
	}
	if (!strcmp(mode, "hold")) {
		int r = lockfile_create(p, 0, L_PID);
		if (r != L_SUCCESS) die("lockfile_create", p, r);
		printf("held %lld\n", mono());
		fflush(stdout);
		for (;;) pause();
	}
	if (!strcmp(mode, "wait")) {
		printf("start %lld\n", mono());
		fflush(stdout);
		int r = lockfile_create(p, 100, L_PID);
		if (r != L_SUCCESS) die("lockfile_create", p, r);
		printf("acq %lld\n", mono());
		fflush(stdout);
		lockfile_remove(p);
		return 0;
	}
	fprintf(stderr, "lockdrv: bad arguments\n");
	return 2;
}
