/* supernode-bench compare: supernode against dpdk-testpmd, coturn and an OpenDHT node (issue
 * 7). The orchestration (starting the references, tables, JSON, plot, docs) lives in
 * bench/compare.py, run with Debian's /usr/bin/python3 (never a python3 found on PATH);
 * this entry point finds the script and execs it with --bench set to this binary, so the
 * script runs the pcap / testpmd / dataplane / latency subcommands of the same build.
 *
 * The script is looked for, in order, at $SN_ROOT/bench/compare.py, next to the binary's
 * source tree as a build dir sees it (<exe>/../../bench/compare.py, i.e. build-x/bench/..),
 * and in the source tree this binary was configured from (SN_SOURCE_ROOT). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bench_compare_main(int argc, char **argv);

#define PROG	   "supernode-bench compare"
#define PYTHON	   "/usr/bin/python3"
#define SCRIPT_REL "bench/compare.py"
#define MAX_ARGS   64

/* root + "/" + SCRIPT_REL into out when that file is readable. */
static int script_in(const char *root, char *out, size_t len)
{
	int n;

	if (!root || !*root)
		return -ENOENT;
	n = snprintf(out, len, "%s/%s", root, SCRIPT_REL);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return access(out, R_OK) == 0 ? 0 : -errno;
}

static int find_script(char *out, size_t len, char *exe, size_t exe_len)
{
	char root[PATH_MAX];
	ssize_t n;
	char *slash;
	int i;

	n = readlink("/proc/self/exe", exe, exe_len - 1);
	if (n <= 0)
		exe[0] = '\0';
	else
		exe[n] = '\0';
	if (script_in(getenv("SN_ROOT"), out, len) == 0)
		return 0;
	if (exe[0]) {
		/* <root>/<build dir>/bench/supernode-bench: two directories up from the binary's */
		snprintf(root, sizeof(root), "%s", exe);
		for (i = 0; i < 3; i++) {
			slash = strrchr(root, '/');
			if (!slash)
				break;
			*slash = '\0';
		}
		if (i == 3 && script_in(root, out, len) == 0)
			return 0;
	}
#ifdef SN_SOURCE_ROOT
	if (script_in(SN_SOURCE_ROOT, out, len) == 0)
		return 0;
#endif
	return -ENOENT;
}

int bench_compare_main(int argc, char **argv)
{
	char script[PATH_MAX], exe[PATH_MAX];
	char *args[MAX_ARGS + 5];
	int i, n = 0;

	if (argc > MAX_ARGS) {
		fprintf(stderr, "%s: bench_compare_main: too many arguments (%d)\n", PROG, argc);
		return 64;
	}
	if (find_script(script, sizeof(script), exe, sizeof(exe)) < 0) {
		fprintf(stderr,
			"%s: bench_compare_main: %s not found (set SN_ROOT to the source tree)\n",
			PROG, SCRIPT_REL);
		return 1;
	}
	args[n++] = PYTHON;
	args[n++] = script;
	if (exe[0]) {
		args[n++] = "--bench";
		args[n++] = exe;
	}
	for (i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(stdout);
	execv(PYTHON, args);
	fprintf(stderr, "%s: bench_compare_main: cannot run %s: %s (apt-get install python3)\n",
		PROG, PYTHON, strerror(errno));
	return 1;
}
