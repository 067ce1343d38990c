/*
 * t_cxx.cpp - the C++ interface (lib/mdbus.hpp): a child process publishes
 * every message type through mdbus::publisher (the snapshots with a
 * claim), the parent reads them back with a range-for over
 * mdbus::subscriber and checks each field, the sequence and that exactly
 * the right typed accessor answers; mdbus::error carries the C code and
 * detail; moves hand the handle over and a move-assignment closes the
 * handle it replaces; a replaced segment throws MDBUS_EREPLACED and
 * reopen() continues; skip() shows as lost to the reader and returns
 * false on lossless back-pressure; counters read back exactly through
 * channel_counters() and counters(); fd() is readable exactly when a
 * message waits; channel_remove() removes every file of the channel.
 *
 * Exits 0 on pass, 1 with "FAIL t_cxx: reason" on stderr.
 */
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <dirent.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mdbus.hpp"

namespace {

constexpr std::uint64_t N = 700; /* messages; a multiple of 7 types */
constexpr auto IDLE = std::chrono::milliseconds(300);
std::string dir;
pid_t main_pid;

static_assert(std::is_same_v<decltype(MDBUS_PX_SCALE), std::int64_t>);
static_assert(std::is_same_v<decltype(MDBUS_QTY_SCALE), std::int64_t>);
static_assert(!std::is_copy_constructible_v<mdbus::publisher>);
static_assert(!std::is_copy_assignable_v<mdbus::subscriber>);
static_assert(std::is_nothrow_move_constructible_v<mdbus::publisher>);
static_assert(std::is_nothrow_move_assignable_v<mdbus::subscriber>);

[[noreturn]] void fail(const std::string &why)
{
	std::fprintf(stderr, "FAIL t_cxx: %s\n", why.c_str());
	if (getpid() != main_pid)
		_exit(1); /* a child leaves the directory to the parent */
	std::exit(1);
}

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond))                                                 \
			fail(std::string(__FILE__ ":") +                     \
			     std::to_string(__LINE__) + ": " #cond);         \
	} while (0)

void remove_dir()
{
	if (DIR *d = opendir(dir.c_str())) {
		while (dirent *e = readdir(d))
			if (e->d_name[0] != '.')
				unlink((dir + "/" + e->d_name).c_str());
		closedir(d);
	}
	rmdir(dir.c_str());
}

mdbus_pub_config config(std::uint32_t slot_size)
{
	mdbus_pub_config c = mdbus::pub_defaults();

	c.slot_size = slot_size;
	c.slots_per_block = 256;
	c.block_count = 4; /* capacity 1024 > N: nothing is lost */
	c.dir = dir.c_str();
	return c;
}

mdbus::sub_options oldest()
{
	mdbus::sub_options o;

	o.start = mdbus::start_position::oldest;
	o.dir = dir;
	return o;
}

/* Message i: its type is i % 7, its fields derived from i. */
mdbus::msg_type type_for(std::uint64_t i) { return static_cast<mdbus::msg_type>(i % 7); }

void set_symbol(char (&sym)[MDBUS_SYMBOL_LEN], std::uint64_t i)
{
	std::snprintf(sym, sizeof(sym), "SYM%llu", static_cast<unsigned long long>(i % 10));
}

std::int64_t px_for(std::uint64_t i)
{
	return static_cast<std::int64_t>(i) * MDBUS_PX_SCALE + 12345678;
}

void publish_one(mdbus::publisher &p, std::uint64_t i)
{
	const std::int64_t px = px_for(i);
	bool ok = true;

	switch (type_for(i)) {
	case mdbus::msg_type::raw: {
		unsigned char raw[10];

		for (unsigned k = 0; k < sizeof(raw); k++)
			raw[k] = static_cast<unsigned char>(i + k);
		ok = p.publish(mdbus::msg_type::raw, mdbus::bytes_view(raw, sizeof(raw)), i + 1);
		break;
	}
	case mdbus::msg_type::quote: {
		mdbus_quote q{};

		set_symbol(q.symbol, i);
		q.bid_px = px;
		q.ask_px = px + 1;
		q.bid_qty = static_cast<std::int64_t>(i) * MDBUS_QTY_SCALE;
		ok = p.publish(q, i + 1);
		break;
	}
	case mdbus::msg_type::trade: {
		mdbus_trade t{};

		set_symbol(t.symbol, i);
		t.px = px;
		t.trade_id = i;
		t.aggressor = static_cast<std::uint8_t>(i % 3);
		ok = p.publish(t, i + 1);
		break;
	}
	case mdbus::msg_type::book_level: {
		mdbus_book_level l{};

		set_symbol(l.symbol, i);
		l.px = px;
		l.level = static_cast<std::uint16_t>(i % 5);
		l.side = static_cast<std::uint8_t>(1 + i % 2);
		l.action = static_cast<std::uint8_t>(i % 3);
		ok = p.publish(l, i + 1);
		break;
	}
	case mdbus::msg_type::book_snapshot: {
		/* built in place: header, then i % 4 bids and (i + 1) % 4 asks */
		const std::uint16_t bids = i % 4, asks = (i + 1) % 4;
		const std::size_t size = sizeof(mdbus_book_snapshot) + 16 * (bids + asks);
		void *slot = p.claim(size);

		CHECK(slot);
		auto *s = static_cast<mdbus_book_snapshot *>(slot);
		*s = mdbus_book_snapshot{};
		set_symbol(s->symbol, i);
		s->bids = bids;
		s->asks = asks;
		auto *lv = reinterpret_cast<mdbus_level *>(s + 1);
		for (unsigned k = 0; k < bids + asks; k++)
			lv[k] = mdbus_level{px + k, static_cast<std::int64_t>(k)};
		p.commit(mdbus::msg_type::book_snapshot, size, i + 1);
		break;
	}
	case mdbus::msg_type::status: {
		mdbus_status st{};

		st.state = MDBUS_STATE_TRADING;
		std::snprintf(st.text, sizeof(st.text), "status %llu  ",
			      static_cast<unsigned long long>(i));
		ok = p.publish(st, i + 1);
		break;
	}
	case mdbus::msg_type::heartbeat: {
		mdbus_heartbeat hb{};

		hb.feed_seq = i;
		ok = p.publish(hb, i + 1);
		break;
	}
	}
	CHECK(ok); /* overwrite mode: never back-pressure */
}

/* How many of the typed accessors answer (exactly one for a typed message,
 * none for raw). */
int typed_answers(const mdbus::message &m)
{
	return m.quote().has_value() + m.trade().has_value() +
	       m.book_level().has_value() + m.book_snapshot().has_value() +
	       m.status().has_value() + m.heartbeat().has_value();
}

void check_one(const mdbus::message &m, std::uint64_t i)
{
	const std::int64_t px = px_for(i);
	const std::string sym = "SYM" + std::to_string(i % 10);

	CHECK(m.seq() == i);
	CHECK(m.lost() == 0);
	CHECK(m.ts_ns() == i + 1);
	CHECK(m.type() == type_for(i));
	CHECK(typed_answers(m) == (m.type() == mdbus::msg_type::raw ? 0 : 1));
	switch (m.type()) {
	case mdbus::msg_type::raw:
		CHECK(m.payload().size() == 10);
		for (unsigned k = 0; k < 10; k++)
			CHECK(m.payload()[k] == static_cast<std::byte>(i + k));
		break;
	case mdbus::msg_type::quote: {
		auto q = m.quote();
		CHECK(mdbus::symbol(q->symbol) == sym);
		CHECK(q->bid_px == px && q->ask_px == px + 1);
		CHECK(mdbus::qty_to_double(q->bid_qty) == static_cast<double>(i));
		break;
	}
	case mdbus::msg_type::trade: {
		auto t = m.trade();
		CHECK(mdbus::symbol(t->symbol) == sym);
		CHECK(t->px == px && t->trade_id == i);
		CHECK(mdbus::trade_side(*t) == static_cast<mdbus::side>(i % 3));
		break;
	}
	case mdbus::msg_type::book_level: {
		auto l = m.book_level();
		CHECK(l->px == px && l->level == i % 5);
		CHECK(mdbus::level_side(*l) == (i % 2 ? mdbus::side::sell : mdbus::side::buy));
		CHECK(mdbus::level_action(*l) == static_cast<mdbus::book_action>(i % 3));
		break;
	}
	case mdbus::msg_type::book_snapshot: {
		auto s = m.book_snapshot();
		CHECK(mdbus::symbol(s->header.symbol) == sym);
		CHECK(s->bids.size() == i % 4 && s->asks.size() == (i + 1) % 4);
		std::int64_t k = 0;
		for (const mdbus_level &l : s->bids) {
			CHECK(l.px == px + k && l.qty == k);
			k++;
		}
		for (const mdbus_level &l : s->asks) {
			CHECK(l.px == px + k && l.qty == k);
			k++;
		}
		break;
	}
	case mdbus::msg_type::status: {
		auto st = m.status();
		CHECK(mdbus::status_state(*st) == mdbus::trading_state::trading);
		CHECK(mdbus::status_text(*st) == "status " + std::to_string(i));
		break;
	}
	case mdbus::msg_type::heartbeat:
		CHECK(m.heartbeat()->feed_seq == i);
		break;
	}
}

/* The child: resumes the channel, publishes messages [0, N), closes. */
int child_publish()
{
	try {
		mdbus_pub_config c = config(256);
		mdbus::publisher p("cxx", c);

		for (std::uint64_t i = 0; i < N; i++)
			publish_one(p, i);
		return p.position() == N ? 0 : 1;
	} catch (const mdbus::error &e) {
		std::fprintf(stderr, "FAIL t_cxx child: %s\n", e.what());
		return 1;
	}
}

void t_two_processes()
{
	mdbus_pub_config c = config(256);
	mdbus::publisher(std::string("cxx"), c).close(); /* the channel exists */
	mdbus::subscriber s("cxx", oldest());

	s.hold_back(0); /* each message the moment it is there */
	pid_t pid = fork();
	int status = 0;

	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_publish());
	std::uint64_t n = 0;
	for (const mdbus::message &m : s.messages(std::chrono::seconds(10))) {
		check_one(m, n);
		if (++n == N)
			break;
	}
	CHECK(n == N);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!s.try_read());
	CHECK(s.caught_up() && s.position() == N && s.lost() == 0);
	CHECK(s.publisher_info().state == mdbus::pub_state::stopped);
	/* a range over nothing new ends at its first timeout */
	auto t0 = std::chrono::steady_clock::now();
	for (const mdbus::message &m : s.messages(IDLE))
		fail("unexpected message " + std::to_string(m.seq()));
	CHECK(std::chrono::steady_clock::now() - t0 >= IDLE);
}

void t_errors()
{
	try {
		mdbus::subscriber s("nosuch", oldest());
		fail("no exception for a missing channel");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == -ENOENT);
		CHECK(std::string(e.what()).rfind("mdbus_sub_open: ", 0) == 0);
	}
	try {
		mdbus::publisher p("bad name", config(256));
		fail("no exception for a bad name");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == MDBUS_ENAME);
	}
	mdbus::publisher owner("owned", config(256));
	try {
		mdbus::publisher second("owned", config(256));
		fail("no exception for an owned channel");
	} catch (const mdbus::error &e) {
		/* the detail names the owner's pid, and what() has it too */
		CHECK(e.code() == MDBUS_EOWNED);
		CHECK(e.detail().find(std::to_string(getpid())) != std::string::npos);
		CHECK(std::string(e.what()).find(e.detail()) != std::string::npos);
	}
	std::vector<unsigned char> big(owner.payload_max() + 1);
	try {
		owner.publish(mdbus::msg_type::raw, mdbus::bytes_view(big.data(), big.size()));
		fail("no exception for a message too big");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == MDBUS_ETOOBIG);
	}
	owner.claim(16);
	try {
		owner.claim(16);
		fail("no exception for a second claim");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == MDBUS_ECLAIMED);
	}
	owner.abort();
	CHECK(owner.position() == 0);
}

void t_moves()
{
	mdbus::publisher a("mv-a", config(256));
	mdbus::subscriber sa("mv-a", oldest());
	mdbus::publisher b(std::move(a));

	CHECK(!a && b);
	CHECK(b.publish(mdbus_heartbeat{1, 2, 3, 0}));
	mdbus::subscriber sb(std::move(sa));
	CHECK(!sa && sb);
	auto m = sb.try_read();
	CHECK(m && m->heartbeat() && m->heartbeat()->feed_seq == 2);

	/* move-assignment closes the handle it replaces: mv-b stops */
	mdbus::publisher c("mv-b", config(256));
	mdbus::subscriber sc("mv-b", oldest());
	CHECK(sc.publisher_info().state == mdbus::pub_state::active);
	c = std::move(b);
	CHECK(!b && c);
	CHECK(sc.publisher_info().state == mdbus::pub_state::stopped);
	CHECK(c.publish(mdbus_heartbeat{1, 5, 3, 0}));
	CHECK(sb.try_read()->heartbeat()->feed_seq == 5);

	/* subscribers survive a vector's reallocation */
	std::vector<mdbus::subscriber> v;
	for (int i = 0; i < 5; i++)
		v.emplace_back("mv-a", oldest());
	for (auto &s : v)
		CHECK(s.try_read()->seq() == 0 && s.try_read()->seq() == 1 && !s.try_read());
	c.close();
	CHECK(!c);
}

void t_replaced()
{
	mdbus::publisher p("rep", config(256));
	mdbus::subscriber s("rep", oldest());
	mdbus_pub_config c = config(512);
	std::uint64_t first = p.epoch();

	CHECK(first != 0 && s.epoch() == first);
	CHECK(p.publish(mdbus_heartbeat{0, 1, 0, 0}));
	p.close();
	c.flags = MDBUS_PUB_REPLACE;
	mdbus::publisher q("rep", c);
	CHECK(q.publish(mdbus_heartbeat{0, 2, 0, 0}));
	CHECK(s.try_read()->heartbeat()->feed_seq == 1);
	try {
		s.try_read();
		fail("no exception for a replaced segment");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == MDBUS_EREPLACED);
	}
	CHECK(s.epoch() == first && q.epoch() != first);
	s.reopen();
	CHECK(s.epoch() == q.epoch());
	CHECK(s.payload_max() == 512 - MDBUS_SLOT_HEADER);
	CHECK(s.try_read()->heartbeat()->feed_seq == 2);
}

void t_skip()
{
	mdbus::publisher p("skip", config(256));
	mdbus::subscriber s("skip", oldest());

	CHECK(p.publish(mdbus_heartbeat{0, 1, 0, 0}));
	CHECK(p.skip(5) && p.position() == 6);
	CHECK(p.publish(mdbus_heartbeat{0, 2, 0, 0}));
	auto m = s.try_read();
	CHECK(m && m->seq() == 0 && m->lost() == 0);
	m = s.try_read();
	CHECK(m && m->seq() == 6 && m->lost() == 5 && m->heartbeat()->feed_seq == 2);
	CHECK(s.lost() == 5 && s.loss_events() == 1);
	try {
		p.skip(MDBUS_SEQ_MAX);
		fail("no exception for a skip past 2^62");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == -EOVERFLOW);
	}

	mdbus_pub_config c = config(256);
	c.mode = MDBUS_MODE_LOSSLESS;
	mdbus::publisher l("lskip", c);
	mdbus::subscriber r("lskip", oldest());
	CHECK(l.publish(mdbus_heartbeat{0, 1, 0, 0}));
	CHECK(!l.skip(1024) && l.position() == 1); /* would overwrite 0 */
	CHECK(l.skip(1023) && l.position() == 1024);
	CHECK(r.try_read()->seq() == 0);
	CHECK(l.publish(mdbus_heartbeat{0, 2, 0, 0}));
	m = r.try_read();
	CHECK(m && m->seq() == 1024 && m->lost() == 1023);
}

void t_counters()
{
	mdbus::publisher p("cnt", config(256));

	CHECK(mdbus::channel_counters("cnt", dir).empty());
	CHECK(p.counter_new("orders") == 0);
	CHECK(p.counter_new("depth.max", mdbus::counter_kind::gauge) == 1);
	p.counter_add(0, 5);
	p.counter_add(0, 7);
	p.counter_set(1, 42);
	CHECK(p.counter_get(0) == 12 && p.counter_get(1) == 42 && p.counter_get(2) == 0);
	try {
		p.counter_new("orders");
		fail("no exception for a label taken");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == -EEXIST);
	}
	mdbus::subscriber s("cnt", oldest());
	for (const auto &v : {mdbus::channel_counters("cnt", dir), s.counters()}) {
		CHECK(v.size() == 2);
		CHECK(v[0].label == "orders" && v[0].kind == mdbus::counter_kind::total &&
		      v[0].id == 0 && v[0].value == 12);
		CHECK(v[1].label == "depth.max" && v[1].kind == mdbus::counter_kind::gauge &&
		      v[1].id == 1 && v[1].value == 42);
	}
	CHECK(!s.replaying()); /* a ring reader */
}

bool readable(int fd, int ms)
{
	pollfd pfd{fd, POLLIN, 0};

	return poll(&pfd, 1, ms) == 1;
}

void rearm(int fd)
{
	std::uint64_t v;

	CHECK(read(fd, &v, sizeof(v)) == sizeof(v));
}

void t_fd()
{
	mdbus::publisher p("fd", config(256));
	mdbus::sub_options o;
	o.dir = dir;
	mdbus::subscriber s("fd", o);
	int fd = s.fd();

	CHECK(fd >= 0 && s.fd() == fd);
	CHECK(!readable(fd, 100));
	for (std::uint32_t i = 0; i < 3; i++) {
		CHECK(p.publish(mdbus_heartbeat{0, i, 0, 0}));
		CHECK(readable(fd, 1000));
		rearm(fd);
		auto m = s.try_read();
		CHECK(m && m->seq() == i && m->heartbeat()->feed_seq == i);
		CHECK(!s.try_read());
		CHECK(!readable(fd, 100));
	}
}

/* The files of the test directory whose name holds `part`. */
int files_of(const std::string &part)
{
	int n = 0;

	if (DIR *d = opendir(dir.c_str())) {
		while (dirent *e = readdir(d))
			n += std::strstr(e->d_name, part.c_str()) != nullptr;
		closedir(d);
	}
	return n;
}

void t_remove()
{
	mdbus::publisher p("rm", config(256));
	mdbus::subscriber s("rm", oldest());

	try {
		mdbus::channel_remove("rm", dir);
		fail("no exception for a channel owned");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == MDBUS_EOWNED);
	}
	s.close();
	p.close();
	int before = files_of("mdbus.rm");
	CHECK(before >= 2);
	CHECK(mdbus::channel_remove("rm", dir) == before);
	CHECK(files_of("mdbus.rm") == 0);
	try {
		mdbus::channel_remove("rm", dir);
		fail("no exception for a channel gone");
	} catch (const mdbus::error &e) {
		CHECK(e.code() == -ENOENT);
	}
}

} // namespace

int main()
{
	char tmpl[] = "/dev/shm/mdbus-t_cxx.XXXXXX";

	if (!mkdtemp(tmpl))
		fail("mkdtemp");
	dir = tmpl;
	main_pid = getpid();
	std::atexit(remove_dir);
	alarm(60);
	try {
		t_errors();
		t_moves();
		t_replaced();
		t_skip();
		t_counters();
		t_fd();
		t_remove();
		t_two_processes();
	} catch (const mdbus::error &e) {
		fail(std::string("unexpected mdbus::error: ") + e.what());
	}
	return 0;
}
