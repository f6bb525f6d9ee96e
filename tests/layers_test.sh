#!/bin/sh
# layers_test.sh - the house's floor plan, checked against every #include.
#
# The code is in rooms (README: Layout): base/, drivers/ and the firmware's
# subsystems. A room may include its own headers and those of the rooms the
# table below lets it reach, and nothing else: a driver never includes the
# application, the decoder never knows the card, the card never knows the
# loop. A new arrow between rooms is a design decision; make it here, on
# purpose, and in the README's table, not by an #include alone.
#
# Each source and header of a room is one check ("ok - ROOM/FILE"). Private
# headers (drivers/gpio/gpio_internal.h) may be included only from their own
# folder (and the tests).
set -u
cd "$(dirname "$0")/.."

allowed() { # allowed ROOM: the rooms ROOM may include, itself first
  case $1 in
  base) echo "base" ;;
  drivers) echo "drivers base" ;;
  decode) echo "decode base" ;;
  card) echo "card base" ;;
  loop) echo "loop base drivers decode card" ;;
  delivery) echo "delivery base card" ;;
  config) echo "config base drivers decode card loop delivery" ;;
  cli) echo "cli base drivers decode card loop delivery config" ;;
  *) echo "" ;;
  esac
}

room_of() { # room_of PATH
  case $1 in
  base/* | include/base/*) echo base ;;
  drivers/* | include/drivers/*) echo drivers ;;
  firmware/*) echo "$1" | cut -d/ -f2 ;;
  include/*) echo "$1" | cut -d/ -f2 ;;
  esac
}

status=0
files=$(git ls-files 'base/*.[ch]' 'drivers/*.[ch]' 'firmware/*.[ch]' 'include/*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find base drivers firmware include -name '*.[ch]' | sort)
for f in $files; do
  room=$(room_of "$f")
  ok_rooms=$(allowed "$room")
  bad=""
  if [ -z "$ok_rooms" ]; then
    bad="a room the floor plan does not know ($room): add it to tests/layers_test.sh and the README"
  fi
  for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
    case $inc in
    */*) target=${inc%%/*} ;;
    *)   # a bare name: a private header beside the file (gpio_internal.h)
      [ -f "$(dirname "$f")/$inc" ] && continue
      bad="$bad ${bad:+; }\"$inc\" is no header of a room (write include/ROOM/NAME.h)"; continue ;;
    esac
    case " $ok_rooms " in
    *" $target "*) ;;
    *) bad="$bad${bad:+; }includes $inc: $room may not reach $target" ;;
    esac
  done
  if [ -z "$bad" ]; then
    echo "ok - $f"
  else
    echo "not ok - $f: $bad"
    status=1
  fi
done

# Private headers stay in their folder.
for h in $(find drivers firmware -name '*.h'); do
  dir=$(dirname "$h") name=$(basename "$h")
  users=$(grep -rl --include='*.c' --include='*.h' "#include \"[^\"]*$name\"" base drivers firmware include tools |
    grep -v "^$dir/" || true)
  if [ -z "$users" ]; then
    echo "ok - $h is private to $dir"
  else
    echo "not ok - $h is private to $dir, but included by: $users"
    status=1
  fi
done
exit $status
