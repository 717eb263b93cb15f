# bash completion for vodup, the command line of a VOD upload service.
#   source contrib/vodup.bash        (or install it as /usr/share/bash-completion/completions/vodup)
# Completes commands, subcommands, each command's options (as its --help lists them, so it
# never falls behind the program), --status values, and file names where files go.

_vodup_help_options() {
    # The options a `vodup WORDS --help` lists, e.g. "--title --json ...".
    "${1:-vodup}" "${@:2}" --help 2>/dev/null | grep -oE '(^|[ ,])--[a-z][a-z0-9-]*' | tr -d ' ,' | sort -u
}

_vodup() {
    local cur prev prog cmd sub i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    prog=${COMP_WORDS[0]}
    cmd="" sub=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --endpoint|--access-key-id|--access-key-secret|--access-key-secret-file|--security-token|--config) ((i++)) ;;
        -*) ;;
        *) if [ -z "$cmd" ]; then cmd=${COMP_WORDS[i]}; elif [ -z "$sub" ]; then sub=${COMP_WORDS[i]}; fi ;;
        esac
    done
    case $prev in
    --config|--access-key-secret-file|--record-dir)
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --status)
        COMPREPLY=($(compgen -W "Uploading UploadFail UploadSucc Transcoding TranscodeFail Checking Blocked Normal ProduceFail" -- "${cur##*,}"))
        return ;;
    --endpoint|--access-key-id|--access-key-secret|--security-token|--title|--description|--tags|--cate-id|\
    --parallel|--part-size|--limit-rate|--include|--upload-address|--upload-auth|--video-id|--role-arn|\
    --session-name|--duration|--expires|--region)
        return ;;
    esac
    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$(_vodup_help_options "$prog")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "upload image video sts s3 help" -- "$cur"))
        fi
        return
    fi
    case $cmd in
    image|video|sts|s3|help)
        if [ -z "$sub" ] && [[ $cur != -* ]]; then
            case $cmd in
            image) COMPREPLY=($(compgen -W "upload url" -- "$cur")) ;;
            video) COMPREPLY=($(compgen -W "info list delete" -- "$cur")) ;;
            sts) COMPREPLY=($(compgen -W "assume-role" -- "$cur")) ;;
            s3) COMPREPLY=($(compgen -W "cp" -- "$cur")) ;;
            help) COMPREPLY=($(compgen -W "upload image video sts s3" -- "$cur")) ;;
            esac
            return
        fi ;;
    esac
    if [[ $cur == -* ]]; then
        if [ -n "$sub" ]; then
            COMPREPLY=($(compgen -W "$(_vodup_help_options "$prog" "$cmd" "$sub")" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$(_vodup_help_options "$prog" "$cmd")" -- "$cur"))
        fi
        return
    fi
    if [ "$cmd" = upload ] || { [ "$cmd" = image ] && [ "$sub" = upload ]; }; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -o default -F _vodup vodup
