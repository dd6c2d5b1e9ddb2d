# bash completion for salvectl                                    -*- shell-script -*-
#
# The verbs and each verb's options are read from `salvectl help` as it completes, from
# the salvectl being completed, so a salvectl with new verbs or options completes them
# without this file changing. `salvectl help` lists each verb on a line of its own
# ("  VERB  ARGS: what it does"), its text going on in lines indented further; every
# --option in a verb's text is one of its options, and -j stands beside --json.
# Beyond that: policy files and folders for validate, the file extract writes, process
# ids for checkpoint, and paths for --socket.

# _salvectl_help PROG: the help text of salvectl PROG, or nothing.
_salvectl_help()
{
    local prog=$1
    [[ $prog == \~* ]] && prog=${prog/#\~/$HOME}
    "$prog" help 2>/dev/null
}

# _salvectl_verb_opts VERB: the options VERB's help text names, from $help.
_salvectl_verb_opts()
{
    local opts
    opts=$(awk -v verb="$1" '
        /^  [a-z]/ { split($0, w, /[ \t]+/); inside = (w[2] == verb); }
        inside { print }' <<<"$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
    [[ $opts == *--json* ]] && opts+=" -j"
    printf '%s\n' $opts
}

_salvectl()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    fi

    local help verbs verb= i v n=0 hits=()
    help=$(_salvectl_help "${words[0]}")
    verbs=$(sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' <<<"$help")

    if [[ $prev == --socket ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    # The verb is the first word that is not an option (nor --socket's argument); n
    # counts the arguments after it, before the word being completed.
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --socket) ((i++)) ;;
        -*) ;;
        *)
            if [[ -z $verb ]]; then verb=${words[i]}; else ((n++)); fi
            ;;
        esac
    done
    if [[ -z $verb ]]; then
        COMPREPLY=($(compgen -W "$verbs --help --version" -- "$cur"))
        return
    fi
    # salvectl takes a unique prefix of a verb as the verb.
    if ! grep -qx -- "$verb" <<<"$verbs"; then
        for v in $verbs; do [[ $v == "$verb"* ]] && hits+=("$v"); done
        [[ ${#hits[@]} -eq 1 ]] || return
        verb=${hits[0]}
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(_salvectl_verb_opts "$verb")" -- "$cur"))
        return
    fi
    case $verb in
    validate)
        if declare -F _filedir >/dev/null; then
            _filedir json
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        ;;
    extract)
        # ID, then the FILE to write.
        if ((n == 1)); then
            if declare -F _filedir >/dev/null; then _filedir; else COMPREPLY=($(compgen -f -- "$cur")); fi
        fi
        ;;
    checkpoint)
        if ((n == 0)); then
            if declare -F _pids >/dev/null; then
                _pids
            else
                COMPREPLY=($(compgen -W "$(cd /proc && compgen -G '[0-9]*')" -- "$cur"))
            fi
        fi
        ;;
    esac
} &&
    complete -F _salvectl salvectl

# ex: filetype=sh
