/*
 * fuzz_moldudp64.c - libFuzzer harness for common/moldudp64.c: the
 * datagram as mdpub's udp source reads it (mold_reader_init/mold_next/
 * mold_msg_decode) and as a re-request server reads a request
 * (mold_request_decode). Invariants: every block lies inside the
 * datagram; a packet read whole re-encodes (mold_writer) to the same
 * bytes; a request decoded re-encodes to the same 20 bytes.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "moldudp64.h"

static unsigned char out[MOLD_PACKET_MAX];

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct mold_header h, req;
	struct mold_reader r;
	struct mold_writer w;
	const unsigned char *blk;
	unsigned char *pkt;
	size_t len, blocks = 0;
	uint64_t seq;
	int rc;

	/* a copy of exactly size bytes, so ASan sees any read past it */
	pkt = malloc(size ? size : 1);
	if (!pkt)
		return 0;
	memcpy(pkt, data, size);

	if (mold_request_decode(pkt, size, &req) == 0) {
		assert(size == MOLD_REQUEST_LEN && req.count && req.seq);
		assert(mold_request_encode(out, sizeof out, &req) ==
		       MOLD_REQUEST_LEN);
		assert(memcmp(out, pkt, MOLD_REQUEST_LEN) == 0);
	}

	rc = mold_reader_init(&r, pkt, size, &h);
	if (rc < 0)
		goto done;
	assert(size >= MOLD_HEADER_LEN && size <= MOLD_PACKET_MAX);
	assert(mold_writer_init(&w, out, sizeof out) == 0);
	while ((rc = mold_next(&r, &blk, &len, &seq)) == 1) {
		struct mold_msg m;

		assert(blk >= pkt + MOLD_HEADER_LEN + MOLD_BLOCK_LEN);
		assert(blk + len <= pkt + size);
		assert(seq == h.seq + blocks);
		assert(seq != UINT64_MAX);
		blocks++;
		assert(blocks <= h.count && h.count != MOLD_COUNT_END);
		if (mold_msg_decode(blk, len, &m) == 0) {
			unsigned char tmp[MOLD_BLOCK_MAX];

			assert(m.size == len - MDBUS_UDP_MSG_LEN);
			assert(mold_msg_encode(tmp, sizeof tmp, &m) == (int)len);
			assert(memcmp(tmp, blk, len) == 0);
		} else {
			assert(len < MDBUS_UDP_MSG_LEN);
		}
		assert(mold_append(&w, blk, len) == 0);
	}
	if (rc == 0) {
		/* a packet taken whole: its count says its blocks, and the
		 * writer makes the same datagram of them */
		assert(h.count == MOLD_COUNT_END ? blocks == 0 :
		       blocks == h.count);
		rc = h.count == MOLD_COUNT_END || h.count == 0 ?
			     mold_writer_seal_count(&w, h.session, h.seq, h.count) :
			     mold_writer_seal(&w, h.session, h.seq);
		assert(rc == (int)size);
		assert(memcmp(out, pkt, size) == 0);
	} else {
		assert(rc == -EMSGSIZE || rc == -EBADMSG);
	}
done:
	free(pkt);
	return 0;
}
