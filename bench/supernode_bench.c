/* supernode-bench: the project's benchmark and evaluation tool.
 *
 *   supernode-bench <subcommand> [args]
 *
 * Each subcommand is a function `int bench_<name>_main(int argc, char **argv)` (argv[0] is
 * the subcommand's name) in its own file under bench/, returning the process exit status.
 * Adding one is one row in SN_BENCH_COMMANDS below (plus its source in bench/meson.build). */
#include <stdio.h>
#include <string.h>

/* X(name, one-line description) */
#define SN_BENCH_COMMANDS(X)                                                                       \
	X(sybil, "evaluate Sybil detection (SybilLimit, SybilRank) on a trust graph")              \
	X(pcap, "write a scenario's frames (TURN/DHT/flood) as a pcap for replay")                 \
	X(dataplane, "measure the real supernode-dataplane on a net_pcap port (JSON)")             \
	X(testpmd, "measure dpdk-testpmd macswap on the same port layout (JSON)")                  \
	X(latency, "added latency (p50/p99) of ChannelData relay over net_memif (JSON)")           \
	X(flood, "guard flood: spoofed DHT/STUN requests from an AF_PACKET socket (JSON)")         \
	X(compare, "supernode vs dpdk-testpmd, coturn, OpenDHT: table, JSON, plot, docs")

#define SN_BENCH_DECLARE(name, help) int bench_##name##_main(int argc, char **argv);
SN_BENCH_COMMANDS(SN_BENCH_DECLARE)

struct bench_cmd {
	const char *name;		   /* subcommand as typed */
	int (*run)(int argc, char **argv); /* entry point; argv[0] is the name */
	const char *help;		   /* one line for the usage text */
};

#define SN_BENCH_ROW(name, help) {#name, bench_##name##_main, help},
static const struct bench_cmd bench_cmds[] = {SN_BENCH_COMMANDS(SN_BENCH_ROW)};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: supernode-bench <subcommand> [args]   (<subcommand> --help for more)\n"
		   "subcommands:\n");
	for (i = 0; i < sizeof(bench_cmds) / sizeof(bench_cmds[0]); i++)
		fprintf(f, "  %-12s %s\n", bench_cmds[i].name, bench_cmds[i].help);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 64;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(bench_cmds) / sizeof(bench_cmds[0]); i++)
		if (!strcmp(argv[1], bench_cmds[i].name))
			return bench_cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "supernode-bench: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 64;
}
