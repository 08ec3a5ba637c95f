/**
 * `bkg autocomplete [bash|zsh]`: the shell completion scripts and how to install them. The scripts
 * hold no command list: at each Tab they ask `bkg __complete WORD...` (completion.ts, on the fast
 * path), so they stay in step with the installed bkg.
 */
import { basename } from 'node:path';
import { BkgError } from '../api/errors.js';
import { output } from './client.js';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/** The names the package installs (package.json "bin"). */
const NAMES = ['bkg', 'cavectl'];

export function bashScript(): string {
  return `# bash completion for bkg (from \`bkg autocomplete bash\`). Install: see \`bkg autocomplete --help\`.
_bkg_complete() {
  local line="\${COMP_LINE:0:\${COMP_POINT:-\${#COMP_LINE}}}"
  local -a words=()
  read -r -a words <<< "$line"
  [[ -z "$line" || "$line" =~ [[:space:]]$ ]] && words+=("")
  local cur="\${words[\${#words[@]}-1]}"
  local reply files=0 nospace=0
  COMPREPLY=()
  while IFS= read -r reply; do
    case "$reply" in
      :files) files=1 ;;
      :nospace) nospace=1 ;;
      '') ;;
      *) COMPREPLY+=("\${reply%%$'\\t'*}") ;;
    esac
  done < <(command "\${words[0]}" __complete "\${words[@]:1}" 2>/dev/null)
  if (( files )); then
    local f
    while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -- "$cur")
    type compopt >/dev/null 2>&1 && compopt -o filenames 2>/dev/null
  fi
  (( nospace )) && type compopt >/dev/null 2>&1 && compopt -o nospace 2>/dev/null
  # bash replaces only what follows the last = or : of the word (COMP_WORDBREAKS): drop what comes before
  local head="\${cur%"\${cur##*[=:]}"}"
  if [[ -n "$head" && "$COMP_WORDBREAKS" == *"\${head: -1}"* ]]; then
    local i
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]="\${COMPREPLY[i]#"$head"}"; done
  fi
  return 0
}
complete -F _bkg_complete ${NAMES.join(' ')}
`;
}

export function zshScript(): string {
  return `#compdef ${NAMES.join(' ')}
# zsh completion for bkg (from \`bkg autocomplete zsh\`). Install: see \`bkg autocomplete --help\`.
_bkg() {
  local -a lines values shown
  local line value files=0 nospace=0 described=0
  lines=("\${(@f)$(command \${words[1]} __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  for line in "\${lines[@]}"; do
    case "$line" in
      :files) files=1 ;;
      :nospace) nospace=1 ;;
      '') ;;
      *$'\\t'*)
        value="\${line%%$'\\t'*}"
        values+=("$value")
        shown+=("\${(r:24:)value} -- \${line#*$'\\t'}")
        described=1 ;;
      *) values+=("$line"); shown+=("$line") ;;
    esac
  done
  local -a opts
  (( nospace )) && opts+=(-S '')
  (( described )) && opts+=(-l)
  local ret=1
  if (( \${#values} )); then
    compadd "\${opts[@]}" -d shown -- "\${values[@]}" && ret=0
  fi
  if (( files )); then
    _files && ret=0
  fi
  return ret
}
if [[ "\${funcstack[1]}" == _bkg ]]; then
  _bkg "$@"
else
  compdef _bkg ${NAMES.join(' ')}
fi
`;
}

/** How to turn the completion on, one shell at a time. */
export function installHelp(shell: Shell): string {
  if (shell === 'bash') {
    return [
      'Bash: put `source <(bkg autocomplete bash)` in ~/.bashrc, or install it for all users:',
      '  bkg autocomplete bash | sudo tee /etc/bash_completion.d/bkg >/dev/null',
      '',
    ].join('\n');
  }
  return [
    'Zsh: save it as _bkg in a directory of $fpath that ~/.zshrc adds before compinit:',
    '  mkdir -p ~/.zsh/completions && bkg autocomplete zsh > ~/.zsh/completions/_bkg',
    '  (in ~/.zshrc: fpath=(~/.zsh/completions $fpath); autoload -Uz compinit && compinit)',
    'or put `source <(bkg autocomplete zsh)` in ~/.zshrc after compinit.',
    '',
  ].join('\n');
}

/** The shell named, or the login shell ($SHELL). */
export function resolveShell(named: string | undefined, env: NodeJS.ProcessEnv = process.env): Shell {
  const shell = named ?? basename(env.SHELL ?? '');
  if ((SHELLS as readonly string[]).includes(shell)) return shell as Shell;
  throw new BkgError('INVALID_ARGUMENT', named ? `no completion for the shell "${named}"` : `cannot tell your shell from $SHELL (${env.SHELL ? `"${env.SHELL}"` : 'not set'})`, {
    hint: `Name it: \`bkg autocomplete bash\` or \`bkg autocomplete zsh\`.`,
    details: { shell: shell || null },
  });
}

/** `bkg autocomplete [SHELL]`: the script on stdout; on a terminal, how to install it on stderr. */
export function autocompleteCommand(named: string | undefined, json: boolean, env: NodeJS.ProcessEnv = process.env): number {
  const shell = resolveShell(named, env);
  const script = shell === 'bash' ? bashScript() : zshScript();
  output(json, { shell, script, install: installHelp(shell) }, () => {
    process.stdout.write(script);
    if (process.stdout.isTTY) process.stderr.write(`\n${installHelp(shell)}`);
  });
  return 0;
}
