#!/usr/bin/env bash
# Turn "--name value" (or "--name=value") arguments into shell variables, as Kaldi and
# Asteroid recipes do. Source it after the defaults, so it can only set variables that the
# recipe declares: a misspelt option is an error, not a silently ignored setting.
#
#   stage=0; tag=""
#   . ../utils/parse_options.sh
#
# Dashes in names become underscores (--stop-stage == --stop_stage). "--help" prints the
# recipe's header comment and its options with their current values.

# run.sh has already changed into its own folder
_wsas_script=${0##*/}

_wsas_usage() {
  sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$_wsas_script"
  echo "Options (current value):"
  for _v in $_wsas_names; do
    printf '  --%-16s %-28s %s\n' "$_v" "${!_v}" \
      "$(grep -h -m1 "^$_v=" "$_wsas_script" "$_wsas_options" | head -1 | sed -n 's/^[^#]*# *//p')"
  done
}

# the options: variables assigned at the start of a line of options.sh, or of run.sh before
# this file is sourced
_wsas_options="$(dirname "${BASH_SOURCE[0]}")/options.sh"
_wsas_names=$(
  { sed -n '1,/parse_options\.sh/s/^\([a-z_][a-z0-9_]*\)=.*/\1/p' "$_wsas_script"
    sed -n 's/^\([a-z_][a-z0-9_]*\)=.*/\1/p' "$_wsas_options"; } | awk '!seen[$0]++' | tr '\n' ' '
)

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      _wsas_usage
      exit 0
      ;;
    --*=*)
      _name="${1%%=*}"; _value="${1#*=}"; shift
      ;;
    --*)
      _name="$1"
      if [ $# -lt 2 ]; then
        echo "$0: option $_name needs a value" >&2
        exit 2
      fi
      _value="$2"; shift 2
      ;;
    *)
      echo "$0: unexpected argument '$1' (options are --name value; see --help)" >&2
      exit 2
      ;;
  esac
  _name="${_name#--}"
  _name="${_name//-/_}"
  case " $_wsas_names " in
    *" $_name "*) printf -v "$_name" '%s' "$_value" ;;
    *)
      echo "$0: unknown option --$_name (see --help)" >&2
      exit 2
      ;;
  esac
done
unset _name _value
