/*
 * mdbus.hpp - header-only C++17 interface to libmdbus (mdbus.h,
 * mdbus_msg.h): move-only publisher and subscriber handles that close
 * themselves, enum classes for the C enums, messages read into the
 * subscriber's own buffer with typed accessors, errors as exceptions, and
 * a range-for over messages. libmdbus(3), section "C++", describes it.
 *
 * Conventions:
 *  - Every failure the C function reports as a negative code throws
 *    mdbus::error, which carries that code and mdbus_last_error()'s detail,
 *    except the conditions a caller handles in its normal flow: nothing to
 *    read (-EAGAIN), a read timeout (-ETIMEDOUT) and lossless back-pressure
 *    (MDBUS_EBACKPRESSURE), which are return values.
 *  - A handle belongs to one thread at a time, as in C.
 *  - A message and the views it gives point into its subscriber's buffer:
 *    they are valid until the next read, reopen or destruction of that
 *    subscriber. The accessors returning std::optional<struct> copy.
 *
 * Link with libmdbus as a C program does:
 *   c++ -std=c++17 prog.cpp $(pkg-config --cflags --libs mdbus)
 */
#ifndef MDBUS_HPP
#define MDBUS_HPP

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mdbus.h"
#include "mdbus_msg.h"

namespace mdbus {

/* ------------------------------------------------------------- the enums */

enum class msg_type : std::uint16_t {
	raw = MDBUS_MSG_RAW,
	quote = MDBUS_MSG_QUOTE,
	trade = MDBUS_MSG_TRADE,
	book_level = MDBUS_MSG_BOOK_LEVEL,
	book_snapshot = MDBUS_MSG_BOOK_SNAPSHOT,
	status = MDBUS_MSG_STATUS,
	heartbeat = MDBUS_MSG_HEARTBEAT,
};

enum class side : std::uint8_t {
	unknown = MDBUS_SIDE_UNKNOWN,
	buy = MDBUS_SIDE_BUY,
	sell = MDBUS_SIDE_SELL,
};

enum class book_action : std::uint8_t {
	add = MDBUS_BOOK_NEW, /* "new" is a keyword */
	change = MDBUS_BOOK_CHANGE,
	remove = MDBUS_BOOK_DELETE, /* "delete" is a keyword */
};

enum class trading_state : std::uint32_t {
	unknown = MDBUS_STATE_UNKNOWN,
	trading = MDBUS_STATE_TRADING,
	halted = MDBUS_STATE_HALTED,
	closed = MDBUS_STATE_CLOSED,
	feed_up = MDBUS_STATE_FEED_UP,
	feed_down = MDBUS_STATE_FEED_DOWN,
};

enum class mode { overwrite = MDBUS_MODE_OVERWRITE, lossless = MDBUS_MODE_LOSSLESS };

enum class wait_strategy {
	adaptive = MDBUS_WAIT_ADAPTIVE,
	spin = MDBUS_WAIT_SPIN,
	yield = MDBUS_WAIT_YIELD,
	block = MDBUS_WAIT_BLOCK,
};

enum class pub_state {
	none = MDBUS_PUB_NONE,
	active = MDBUS_PUB_ACTIVE,
	stopped = MDBUS_PUB_STOPPED,
	replaced = MDBUS_PUB_REPLACED,
	dead = MDBUS_PUB_DEAD,
};

enum class start_position {
	latest = MDBUS_START_LATEST,
	oldest = MDBUS_START_OLDEST,
	seq = MDBUS_START_SEQ,
	time = MDBUS_START_TIME,
};

enum class counter_kind {
	total = MDBUS_COUNTER_TOTAL,
	gauge = MDBUS_COUNTER_GAUGE,
};

/* The typed values of the uint8_t/uint32_t enum fields of mdbus_msg.h. */
inline side trade_side(const mdbus_trade &t) { return static_cast<side>(t.aggressor); }
inline side level_side(const mdbus_book_level &l) { return static_cast<side>(l.side); }
inline book_action level_action(const mdbus_book_level &l)
{
	return static_cast<book_action>(l.action);
}
inline trading_state status_state(const mdbus_status &s)
{
	return static_cast<trading_state>(s.state);
}

/* ------------------------------------------------------------ the error */

/* A libmdbus failure: code() is the negative code the C call returned
 * (a negated errno value or MDBUS_E*), detail() mdbus_last_error() at the
 * time, what() "CALL: mdbus_strerror(code)[: detail]". */
class error : public std::runtime_error {
public:
	error(int code, const char *call)
		: std::runtime_error(text(code, call)), code_(code),
		  detail_(mdbus_last_error())
	{
	}
	int code() const noexcept { return code_; }
	const std::string &detail() const noexcept { return detail_; }

private:
	static std::string text(int code, const char *call)
	{
		std::string s = std::string(call) + ": " + mdbus_strerror(code);
		const char *d = mdbus_last_error();

		return *d ? s + ": " + d : s;
	}
	int code_;
	std::string detail_;
};

/* Throws mdbus::error when rc is negative; returns rc otherwise. */
inline int check_rc(int rc, const char *call)
{
	if (rc < 0)
		throw error(rc, call);
	return rc;
}

/* ------------------------------------------------------------- helpers */

/* A read-only run of bytes (C++17 has no std::span). */
class bytes_view {
public:
	bytes_view() noexcept = default;
	bytes_view(const void *p, std::size_t n) noexcept
		: data_(static_cast<const std::byte *>(p)), size_(n)
	{
	}
	const std::byte *data() const noexcept { return data_; }
	std::size_t size() const noexcept { return size_; }
	bool empty() const noexcept { return size_ == 0; }
	const std::byte *begin() const noexcept { return data_; }
	const std::byte *end() const noexcept { return data_ + size_; }
	std::byte operator[](std::size_t i) const noexcept { return data_[i]; }

private:
	const std::byte *data_ = nullptr;
	std::size_t size_ = 0;
};

/* A symbol field (NUL-padded, maybe unterminated) as a string: up to the
 * first NUL, trailing spaces trimmed (mdbus_symbol_str()). */
inline std::string symbol(const char (&field)[MDBUS_SYMBOL_LEN])
{
	char out[MDBUS_SYMBOL_LEN + 1];

	return mdbus_symbol_str(out, field);
}

/* A status message's text the same way (mdbus_status_text()). */
inline std::string status_text(const mdbus_status &s)
{
	char out[MDBUS_STATUS_TEXT_LEN + 1];

	return mdbus_status_text(out, &s);
}

/* Fixed-point prices and quantities as doubles (mdbus_px_to_double()). */
inline double px_to_double(std::int64_t px) { return mdbus_px_to_double(px); }
inline double qty_to_double(std::int64_t qty) { return mdbus_qty_to_double(qty); }

/* The message type of each message structure, for publisher::publish(). */
template <class T> struct type_of;
template <> struct type_of<mdbus_quote> {
	static constexpr msg_type value = msg_type::quote;
};
template <> struct type_of<mdbus_trade> {
	static constexpr msg_type value = msg_type::trade;
};
template <> struct type_of<mdbus_book_level> {
	static constexpr msg_type value = msg_type::book_level;
};
template <> struct type_of<mdbus_status> {
	static constexpr msg_type value = msg_type::status;
};
template <> struct type_of<mdbus_heartbeat> {
	static constexpr msg_type value = msg_type::heartbeat;
};

/* A run of book levels (of a snapshot), best first. */
class levels_view {
public:
	levels_view(const mdbus_level *first, std::size_t n) noexcept
		: first_(first), n_(n)
	{
	}
	const mdbus_level *begin() const noexcept { return first_; }
	const mdbus_level *end() const noexcept { return first_ + n_; }
	std::size_t size() const noexcept { return n_; }
	const mdbus_level &operator[](std::size_t i) const noexcept { return first_[i]; }

private:
	const mdbus_level *first_;
	std::size_t n_;
};

/* A book snapshot in place: its header, then its bid and ask levels. */
struct snapshot_view {
	const mdbus_book_snapshot &header;
	levels_view bids;
	levels_view asks;
};

/* -------------------------------------------------------------- message */

/* One message read by a subscriber: the slot header's fields and the
 * payload, which stays in the subscriber's buffer until its next read. */
class message {
public:
	message(const mdbus_msg &h, const void *payload) noexcept
		: h_(h), payload_(payload)
	{
	}
	const mdbus_msg &header() const noexcept { return h_; }
	std::uint64_t seq() const noexcept { return h_.seq; }
	std::uint64_t ts_ns() const noexcept { return h_.ts_ns; }
	std::uint64_t lost() const noexcept { return h_.lost; }
	msg_type type() const noexcept { return static_cast<msg_type>(h_.type); }
	bytes_view payload() const noexcept { return {payload_, h_.size}; }

	/* A copy of the message as its structure, or nullopt when it is of
	 * another type or too short (the checks of mdbus_msg_as_*()). */
	std::optional<mdbus_quote> quote() const
	{
		return copy(mdbus_msg_as_quote(payload_, &h_));
	}
	std::optional<mdbus_trade> trade() const
	{
		return copy(mdbus_msg_as_trade(payload_, &h_));
	}
	std::optional<mdbus_book_level> book_level() const
	{
		return copy(mdbus_msg_as_book_level(payload_, &h_));
	}
	std::optional<mdbus_status> status() const
	{
		return copy(mdbus_msg_as_status(payload_, &h_));
	}
	std::optional<mdbus_heartbeat> heartbeat() const
	{
		return copy(mdbus_msg_as_heartbeat(payload_, &h_));
	}
	/* A view of a snapshot whose levels all fit, else nullopt. */
	std::optional<snapshot_view> book_snapshot() const
	{
		const mdbus_book_snapshot *s =
			mdbus_msg_as_book_snapshot(payload_, &h_);

		if (!s)
			return std::nullopt;
		const mdbus_level *lv = mdbus_snapshot_levels(s);
		return snapshot_view{*s, levels_view(lv, s->bids),
				     levels_view(lv + s->bids, s->asks)};
	}

private:
	template <class T> static std::optional<T> copy(const T *p)
	{
		if (!p)
			return std::nullopt;
		return *p;
	}
	mdbus_msg h_;
	const void *payload_;
};

/* ------------------------------------------------------------- counters */

/* One publisher counter as a reader sees it (struct mdbus_counter). The
 * label is as the publisher wrote it: not checked (escape it to print). */
struct counter {
	std::string label;
	counter_kind kind;
	std::uint32_t id;
	std::uint64_t value;
};

/* The counters c[0..n) (n capped at MDBUS_COUNTERS_MAX) as a vector. */
inline std::vector<counter> to_counters(const mdbus_counter *c, int n)
{
	std::vector<counter> v;

	for (int i = 0; i < n && i < MDBUS_COUNTERS_MAX; i++)
		v.push_back({c[i].label, static_cast<counter_kind>(c[i].kind),
			     c[i].id, c[i].value});
	return v;
}

/* mdbus_channel_counters(): the counters of the channel's publisher (the
 * last one's, also after it stopped); empty dir: the default directory.
 * Throws mdbus::error. */
inline std::vector<counter> channel_counters(const std::string &channel,
					     const std::string &dir = {})
{
	mdbus_counter c[MDBUS_COUNTERS_MAX];
	int n = check_rc(mdbus_channel_counters(channel.c_str(),
						dir.empty() ? nullptr : dir.c_str(),
						c, MDBUS_COUNTERS_MAX),
			 "mdbus_channel_counters");

	return to_counters(c, n);
}

/* mdbus_channel_remove(): removes every file of the channel (force:
 * MDBUS_UNLINK_FORCE, even while a live publisher owns it) and returns
 * how many; throws mdbus::error (-ENOENT when there was none,
 * MDBUS_EOWNED, ...). */
inline int channel_remove(const std::string &channel, const std::string &dir = {},
			  bool force = false)
{
	return check_rc(mdbus_channel_remove(channel.c_str(),
					     dir.empty() ? nullptr : dir.c_str(),
					     force ? MDBUS_UNLINK_FORCE : 0u),
			"mdbus_channel_remove");
}

/* ------------------------------------------------------------ publisher */

/* mdbus_pub_config with its defaults (mdbus_pub_config_init()). */
inline mdbus_pub_config pub_defaults()
{
	mdbus_pub_config c;

	mdbus_pub_config_init(&c);
	return c;
}

/* Owns an mdbus_pub_t: opened by the constructor, closed (readers see
 * "stopped") by close() or the destructor. Move-only; a moved-from
 * publisher holds nothing and its calls other than close() and
 * destruction are undefined. */
class publisher {
public:
	/* mdbus_pub_open(); throws mdbus::error. */
	explicit publisher(const std::string &channel,
			   const mdbus_pub_config &cfg = pub_defaults())
	{
		check_rc(mdbus_pub_open(&p_, channel.c_str(), &cfg), "mdbus_pub_open");
	}
	publisher(publisher &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
	publisher &operator=(publisher &&o) noexcept
	{
		if (this != &o) {
			close();
			p_ = std::exchange(o.p_, nullptr);
		}
		return *this;
	}
	publisher(const publisher &) = delete;
	publisher &operator=(const publisher &) = delete;
	~publisher() { close(); }

	/* mdbus_pub_publish(): true when published, false on lossless
	 * back-pressure (nothing written: try again later); throws on any
	 * other error (MDBUS_ETOOBIG, MDBUS_ECLAIMED). */
	bool publish(msg_type type, bytes_view data, std::uint64_t ts_ns = 0)
	{
		int rc = mdbus_pub_publish(p_, static_cast<std::uint16_t>(type),
					   data.data(), data.size(), ts_ns);

		if (rc == MDBUS_EBACKPRESSURE)
			return false;
		check_rc(rc, "mdbus_pub_publish");
		return true;
	}
	/* One of the message structures, with its own type. */
	template <class T>
	bool publish(const T &msg, std::uint64_t ts_ns = 0)
	{
		return publish(type_of<T>::value, bytes_view(&msg, sizeof(msg)), ts_ns);
	}

	/* Zero-copy (mdbus_pub_claim()): the slot's payload area for up to
	 * size bytes, or nullptr on back-pressure; throws on other errors. */
	void *claim(std::size_t size)
	{
		void *payload = nullptr;
		int rc = mdbus_pub_claim(p_, size, &payload);

		if (rc == MDBUS_EBACKPRESSURE)
			return nullptr;
		check_rc(rc, "mdbus_pub_claim");
		return payload;
	}
	void commit(msg_type type, std::size_t size, std::uint64_t ts_ns = 0)
	{
		check_rc(mdbus_pub_commit(p_, static_cast<std::uint16_t>(type), size,
				       ts_ns),
		      "mdbus_pub_commit");
	}
	void abort() { check_rc(mdbus_pub_abort(p_), "mdbus_pub_abort"); }

	/* mdbus_pub_skip(): the next message gets position() + n, readers
	 * count the n as lost. False on lossless back-pressure (nothing
	 * skipped); throws on other errors (-EOVERFLOW, MDBUS_ECLAIMED). */
	bool skip(std::uint64_t n)
	{
		int rc = mdbus_pub_skip(p_, n);

		if (rc == MDBUS_EBACKPRESSURE)
			return false;
		check_rc(rc, "mdbus_pub_skip");
		return true;
	}

	/* Counters readers see (mdbus_pub_counter_new() and the rest):
	 * counter_new() returns the new counter's id, throws on -EINVAL,
	 * -EEXIST, -ENOSPC; set/add ignore an id counter_new() did not
	 * return, counter_get() answers 0 for it. */
	int counter_new(const std::string &label, counter_kind kind = counter_kind::total)
	{
		return check_rc(mdbus_pub_counter_new(p_, label.c_str(),
						      static_cast<mdbus_counter_kind>(kind)),
				"mdbus_pub_counter_new");
	}
	void counter_set(int id, std::uint64_t value) { mdbus_pub_counter_set(p_, id, value); }
	void counter_add(int id, std::uint64_t delta) { mdbus_pub_counter_add(p_, id, delta); }
	std::uint64_t counter_get(int id) const { return mdbus_pub_counter_get(p_, id); }

	void heartbeat() { mdbus_pub_heartbeat(p_); }
	/* mdbus_pub_reap(): the entries freed or evicted. */
	int reap() { return check_rc(mdbus_pub_reap(p_), "mdbus_pub_reap"); }
	/* mdbus_pub_reclaim(): the entries freed; any thread, while another
	 * publishes. */
	int reclaim() { return mdbus_pub_reclaim(p_); }
	std::uint64_t position() const { return mdbus_pub_position(p_); }
	std::size_t payload_max() const { return mdbus_pub_payload_max(p_); }
	/* mdbus_pub_epoch(): the segment published in. */
	std::uint64_t epoch() const { return mdbus_pub_epoch(p_); }
	mdbus_pub_t *native_handle() const noexcept { return p_; }
	explicit operator bool() const noexcept { return p_ != nullptr; }

	/* mdbus_pub_close() now; then the publisher holds nothing. */
	void close() noexcept { mdbus_pub_close(std::exchange(p_, nullptr)); }

private:
	mdbus_pub_t *p_ = nullptr;
};

/* ----------------------------------------------------------- subscriber */

/* mdbus_sub_config in C++ terms; empty strings mean NULL (the default). */
struct sub_options {
	std::string name;
	bool anonymous = false;
	start_position start = start_position::latest;
	std::uint64_t start_seq = 0;
	wait_strategy wait = wait_strategy::adaptive;
	std::string dir;
	std::string owner;
	std::uint64_t start_time_ns = 0; /* start_position::time */
	std::string archive_dir;         /* empty: the announced one */
};

struct pub_info {
	pub_state state;
	pid_t pid;
	std::int64_t heartbeat_age_ns;
	std::uint64_t write_num;
};

class subscriber;

/* End of a message range: the sentinel of message_iterator. */
struct message_end {};

/* Input iterator over the messages of a subscriber: each step reads with
 * the range's timeout; the range ends at the first read that times out.
 * Errors throw (MDBUS_EREPLACED, MDBUS_EEVICTED: reopen() and iterate
 * again). */
class message_iterator {
public:
	using iterator_category = std::input_iterator_tag;
	using value_type = message;
	using difference_type = std::ptrdiff_t;
	using pointer = const message *;
	using reference = const message &;

	message_iterator(subscriber *s, std::chrono::nanoseconds timeout);
	reference operator*() const { return *cur_; }
	pointer operator->() const { return &*cur_; }
	message_iterator &operator++();
	friend bool operator==(const message_iterator &i, message_end) { return !i.cur_; }
	friend bool operator!=(const message_iterator &i, message_end) { return i.cur_.has_value(); }
	friend bool operator==(message_end, const message_iterator &i) { return !i.cur_; }
	friend bool operator!=(message_end, const message_iterator &i) { return i.cur_.has_value(); }

private:
	subscriber *s_;
	std::chrono::nanoseconds timeout_;
	std::optional<message> cur_;
};

/* What subscriber::messages() returns: for (const auto &m : range). */
class message_range {
public:
	message_range(subscriber *s, std::chrono::nanoseconds timeout) noexcept
		: s_(s), timeout_(timeout)
	{
	}
	message_iterator begin() const { return message_iterator(s_, timeout_); }
	message_end end() const noexcept { return {}; }

private:
	subscriber *s_;
	std::chrono::nanoseconds timeout_;
};

/* Owns an mdbus_sub_t and a buffer of the slot payload size (so no read
 * fails with -EMSGSIZE). Move-only, like publisher. */
class subscriber {
public:
	/* mdbus_sub_open(); throws mdbus::error. */
	explicit subscriber(const std::string &channel, const sub_options &o = {})
	{
		mdbus_sub_config c;

		mdbus_sub_config_init(&c);
		c.name = o.name.empty() ? nullptr : o.name.c_str();
		c.anonymous = o.anonymous;
		c.start = static_cast<mdbus_start>(o.start);
		c.start_seq = o.start_seq;
		c.wait = static_cast<mdbus_wait>(o.wait);
		c.dir = o.dir.empty() ? nullptr : o.dir.c_str();
		c.owner = o.owner.empty() ? nullptr : o.owner.c_str();
		c.start_time_ns = o.start_time_ns;
		c.archive_dir = o.archive_dir.empty() ? nullptr : o.archive_dir.c_str();
		check_rc(mdbus_sub_open(&s_, channel.c_str(), &c), "mdbus_sub_open");
		size_buffer();
	}
	subscriber(subscriber &&o) noexcept
		: s_(std::exchange(o.s_, nullptr)), buf_(std::move(o.buf_)),
		  len_(std::exchange(o.len_, 0))
	{
	}
	subscriber &operator=(subscriber &&o) noexcept
	{
		if (this != &o) {
			close();
			s_ = std::exchange(o.s_, nullptr);
			buf_ = std::move(o.buf_);
			len_ = std::exchange(o.len_, 0);
		}
		return *this;
	}
	subscriber(const subscriber &) = delete;
	subscriber &operator=(const subscriber &) = delete;
	~subscriber() { close(); }

	/* mdbus_sub_try_read(): the next message, or nullopt when there is
	 * none yet; throws on errors. */
	std::optional<message> try_read()
	{
		mdbus_msg h;
		int rc = mdbus_sub_try_read(s_, buf_.get(), len_, &h);

		if (rc == -EAGAIN)
			return std::nullopt;
		check_rc(rc, "mdbus_sub_try_read");
		return message(h, buf_.get());
	}
	/* mdbus_sub_read(): waits up to timeout (negative: forever) with the
	 * configured strategy; nullopt on timeout; throws on errors. */
	std::optional<message> read(std::chrono::nanoseconds timeout)
	{
		mdbus_msg h;
		int rc = mdbus_sub_read(s_, buf_.get(), len_, &h,
					static_cast<std::int64_t>(timeout.count()));

		if (rc == -ETIMEDOUT)
			return std::nullopt;
		check_rc(rc, "mdbus_sub_read");
		return message(h, buf_.get());
	}
	/* The messages from here on, until a read waits `idle` in vain. */
	message_range messages(std::chrono::nanoseconds idle)
	{
		return message_range(this, idle);
	}

	/* mdbus_sub_reopen() (after MDBUS_EREPLACED or MDBUS_EEVICTED): in
	 * the same segment at our place, in a new one at `from` (seq for
	 * start_position::seq). */
	void reopen(start_position from = start_position::oldest,
		    std::uint64_t seq = 0)
	{
		check_rc(mdbus_sub_reopen(s_, static_cast<mdbus_start>(from), seq),
			 "mdbus_sub_reopen");
		size_buffer();
	}
	pub_info publisher_info() const
	{
		mdbus_pub_info i;

		check_rc(mdbus_sub_pub_info(s_, &i), "mdbus_sub_pub_info");
		return {static_cast<pub_state>(i.state), i.pid, i.heartbeat_age_ns,
			i.write_num};
	}
	/* mdbus_sub_counters(): the publisher counters of this segment. */
	std::vector<counter> counters() const
	{
		mdbus_counter c[MDBUS_COUNTERS_MAX];
		int n = check_rc(mdbus_sub_counters(s_, c, MDBUS_COUNTERS_MAX),
				 "mdbus_sub_counters");

		return to_counters(c, n);
	}
	/* mdbus_sub_fd(): a descriptor for event loops, readable when there
	 * may be something to read; read(2) its 8 bytes, then try_read()
	 * until nullopt. The subscriber owns it (close() closes it). */
	int fd() { return check_rc(mdbus_sub_fd(s_), "mdbus_sub_fd"); }
	/* mdbus_sub_set_hold_back(): how far behind a streaming publisher
	 * the reader keeps (0: never pauses). */
	void hold_back(std::uint64_t distance) { mdbus_sub_set_hold_back(s_, distance); }
	/* mdbus_sub_replaying(): reading the archive, not the ring. */
	bool replaying() const { return mdbus_sub_replaying(s_) == 1; }
	/* mdbus_sub_registered(): holds a consumer entry. */
	bool registered() const { return mdbus_sub_registered(s_) == 1; }
	bool caught_up() const { return mdbus_sub_caught_up(s_) == 1; }
	std::uint64_t position() const { return mdbus_sub_position(s_); }
	std::uint64_t lost() const { return mdbus_sub_lost(s_); }
	std::uint64_t loss_events() const { return mdbus_sub_loss_events(s_); }
	std::uint64_t archive_skipped() const { return mdbus_sub_archive_skipped(s_); }
	std::size_t payload_max() const { return mdbus_sub_payload_max(s_); }
	/* mdbus_sub_epoch(): the segment this reader maps. */
	std::uint64_t epoch() const { return mdbus_sub_epoch(s_); }
	mdbus_sub_t *native_handle() const noexcept { return s_; }
	explicit operator bool() const noexcept { return s_ != nullptr; }

	/* mdbus_sub_close() now; then the subscriber holds nothing. */
	void close() noexcept
	{
		mdbus_sub_close(std::exchange(s_, nullptr));
		buf_.reset();
		len_ = 0;
	}

private:
	/* The buffer is new[]ed, so aligned for every message structure. */
	void size_buffer()
	{
		std::size_t need = mdbus_sub_payload_max(s_);

		if (need != len_) {
			buf_.reset(new std::byte[need]);
			len_ = need;
		}
	}
	mdbus_sub_t *s_ = nullptr;
	std::unique_ptr<std::byte[]> buf_;
	std::size_t len_ = 0;
};

inline message_iterator::message_iterator(subscriber *s,
					  std::chrono::nanoseconds timeout)
	: s_(s), timeout_(timeout), cur_(s->read(timeout))
{
}

inline message_iterator &message_iterator::operator++()
{
	cur_ = s_->read(timeout_);
	return *this;
}

} // namespace mdbus

#endif /* MDBUS_HPP */
