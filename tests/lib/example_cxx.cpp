// Reads every quote on channel "example" until 0.2 s pass without one (README example, C++).
#include <chrono>
#include <cstdio>
#include <mdbus.hpp>

int main()
{
	mdbus::sub_options opt;
	opt.start = mdbus::start_position::oldest;
	try {
		mdbus::subscriber sub("example", opt);

		for (const mdbus::message &m : sub.messages(std::chrono::milliseconds(200)))
			if (std::optional<mdbus_quote> q = m.quote())
				std::printf("%llu %s bid %lld lost %llu\n", (unsigned long long)m.seq(),
					    mdbus::symbol(q->symbol).c_str(), (long long)q->bid_px,
					    (unsigned long long)m.lost());
	} catch (const mdbus::error &e) {
		std::fprintf(stderr, "example_cxx: %s\n", e.what());
		return 1;
	}
	return 0;
}
