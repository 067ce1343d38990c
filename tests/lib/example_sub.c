/* Reads every quote on channel "example" until 0.2 s pass without one (README example). */
#include <errno.h>
#include <stdio.h>
#include <mdbus.h>
#include <mdbus_msg.h>

int main(void)
{
	struct mdbus_sub_config cfg;
	struct mdbus_quote q;
	struct mdbus_msg msg;
	mdbus_sub_t *sub;
	int r;

	mdbus_sub_config_init(&cfg);
	cfg.start = MDBUS_START_OLDEST;
	r = mdbus_sub_open(&sub, "example", &cfg);
	if (r < 0) {
		fprintf(stderr, "example_sub: %s: %s\n", mdbus_strerror(r), mdbus_last_error());
		return 1;
	}
	while ((r = mdbus_sub_read(sub, &q, sizeof(q), &msg, 200000000)) == 0)
		if (msg.type == MDBUS_MSG_QUOTE)
			printf("%llu %.4s bid %lld lost %llu\n", (unsigned long long)msg.seq, q.symbol,
			       (long long)q.bid_px, (unsigned long long)msg.lost);
	mdbus_sub_close(sub);
	return r == -ETIMEDOUT ? 0 : 1;
}
