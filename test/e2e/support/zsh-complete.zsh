# zsh zsh-complete.zsh SCRIPT LINE: prints, one a line, the words a real interactive zsh offers when LINE
# is typed and Tab pressed, once the completion script SCRIPT is sourced. The interactive shell runs in a
# pseudo-terminal (zsh/zpty) with compinit loaded; a compadd wrapper prints each word the completion
# system adds, and a key bound after Tab prints the end marker. The markers are built from variables so
# that the shell's echo of these lines never looks like one.
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT= RPROMPT= PS2="
zpty -w z "autoload -Uz compinit && compinit -u -D"
zpty -w z "source ${(q)1}"
zpty -w z "zstyle ':completion:*' insert-tab false; zstyle ':completion:*' list-grouped false"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits; builtin compadd -A __hits "$@"; local rc=$?
  local m=hit; (( $#__hits )) && print -rl -- ${(@)^__hits/#/<$m>}
  return rc
}'
zpty -w z 'end-of-completions() { local m=end; print -r -- "<$m>"; zle send-break }; zle -N end-of-completions; bindkey "^B" end-of-completions'
zpty -w z "bindkey '^I' complete-word"
zpty -n -w z "$2"$'\t\C-B'
typeset line
while zpty -r z line; do
  [[ $line == *'<end>'* ]] && break
  [[ $line == *'<hit>'* ]] && print -r -- "${${line##*<hit>}%%[$'\r\n']*}"
done
zpty -d z
