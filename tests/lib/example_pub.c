/* Publishes 1000 quotes on channel "example" (README example). */
#include <stdio.h>
#include <string.h>
#include <mdbus.h>
#include <mdbus_msg.h>

int main(void)
{
	struct mdbus_pub_config cfg;
	mdbus_pub_t *pub;
	int i, r;

	mdbus_pub_config_init(&cfg);
	r = mdbus_pub_open(&pub, "example", &cfg);
	if (r < 0) {
		fprintf(stderr, "example_pub: %s: %s\n", mdbus_strerror(r), mdbus_last_error());
		return 1;
	}
	for (i = 0; i < 1000; i++) {
		struct mdbus_quote q = { .bid_px = 100 * MDBUS_PX_SCALE + i, .ask_px = 101 * MDBUS_PX_SCALE };

		strcpy(q.symbol, "DEMO");
		mdbus_pub_publish(pub, MDBUS_MSG_QUOTE, &q, sizeof(q), 0);
	}
	mdbus_pub_close(pub);
	return 0;
}
