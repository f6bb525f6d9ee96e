#!/bin/sh
# pinmaps_test.sh - the board's pin maps load through the real config reader.
exec sh board/check-pinmaps.sh
