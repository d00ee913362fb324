# Helpers shared by the bench scripts (sourced).

# The median of the numbers in $1 (separated by spaces).
median() {
  tr ' ' '\n' <<<"$1" | grep . | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Whether instruction counts can be taken (valgrind installed); says why not.
can_count_instructions() {
  command -v valgrind >/dev/null && return 0
  echo "bench: valgrind is not installed: no instruction counts (apt-get install valgrind)" >&2
  return 1
}

# The instructions a command executes (callgrind), its profile in OUT (/dev/null: none):
#   instructions_of OUT COMMAND...   (the command's standard output is dropped)
instructions_of() {
  local out=$1 err
  shift
  err=$(mktemp)
  if ! valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$err"; then
    cat "$err" >&2
    rm -f "$err"
    return 1
  fi
  grep -o 'Collected : [0-9]*' "$err" | grep -o '[0-9]*$'
  rm -f "$err"
}

# Builds smimegate in release mode (log in WORK/build.log); on failure shows the errors and exits 2:
#   build_release WORK SCRIPT-NAME
build_release() {
  if ! swift build -c release --product smimegate >"$1/build.log" 2>&1; then
    grep -E 'error' "$1/build.log" | head -20 >&2
    echo "$2: the build failed (full log: $1/build.log)" >&2
    exit 2
  fi
}
