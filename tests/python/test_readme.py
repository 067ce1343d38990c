"""The README's Python example is example_vwap.py verbatim, and prints
the volume-weighted average price per symbol of the trades on "demo"."""
import os
import re
import subprocess
import sys

import mdbus

HERE = os.path.dirname(os.path.abspath(__file__))


def test_readme_shows_the_example():
    readme = open(os.path.join(os.environ["top_srcdir"], "README.md")).read()
    blocks = re.findall(r"^```python\n(.*?)^```$", readme, re.M | re.S)
    assert blocks == [open(os.path.join(HERE, "example_vwap.py")).read()]


def test_example_prints_vwap_per_symbol(bus):
    with mdbus.Publisher("demo", slots_per_block=64, block_count=4) as pub:
        pub.publish_quote("AAPL", 1.0, 1.0, 2.0, 1.0)
        pub.publish_trade("AAPL", 10.0, 1.0)
        pub.publish_trade("MSFT", 5.0, 2.0)
        pub.publish_trade("AAPL", 20.0, 3.0)
        pub.publish("raw", b"")
    out = subprocess.run([sys.executable,
                          os.path.join(HERE, "example_vwap.py")],
                         check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    assert out == "AAPL 17.5\nMSFT 5.0\n"
