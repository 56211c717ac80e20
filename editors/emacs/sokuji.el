;;; sokuji.el --- Code completions and fixes from a local model, via eglot  -*- lexical-binding: t; -*-

;; Works with eglot 1.9 on Emacs 28 and the built-in eglot of Emacs 29+.
;;
;;   (add-to-list 'load-path "/path/to/sokuji/editors/emacs")
;;   (require 'sokuji)
;;
;; then M-x eglot (or `eglot-ensure' in a mode hook) in a supported buffer. Completions come
;; through `completion-at-point'; fixes through `eglot-code-actions' ("Fix with sokuji: ...").

;;; Code:

(require 'eglot)

(defgroup sokuji nil
  "Code completions and fix suggestions from a local GGUF model."
  :group 'tools
  :prefix "sokuji-")

(defcustom sokuji-command '("sokuji" "serve")
  "The command that starts the sokuji language server."
  :type '(repeat string))

(defcustom sokuji-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode tsx-ts-mode
    rust-mode rust-ts-mode go-mode go-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode java-mode
    java-ts-mode ruby-mode ruby-ts-mode sh-mode bash-ts-mode lua-mode lua-ts-mode)
  "Major modes whose buffers sokuji serves."
  :type '(repeat symbol))

(defcustom sokuji-initialization-options nil
  "sokuji settings sent as initializationOptions, as a plist: (:maxTokens 64 :model \"/m.gguf\").
See the README's settings table."
  :type 'plist)

(defclass eglot-sokuji (eglot-lsp-server) ()
  :documentation "The sokuji language server.")

(cl-defmethod eglot-initialization-options ((_server eglot-sokuji))
  "The `sokuji-initialization-options' plist, or an empty object."
  (or sokuji-initialization-options eglot--{}))

(add-to-list 'eglot-server-programs
             `(,sokuji-modes . (eglot-sokuji ,@sokuji-command)))

(provide 'sokuji)
;;; sokuji.el ends here
