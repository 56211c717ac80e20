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
See docs/settings.md."
  :type 'plist)

(defclass eglot-sokuji (eglot-lsp-server) ()
  :documentation "The sokuji language server.")

(cl-defmethod eglot-initialization-options ((_server eglot-sokuji))
  "The `sokuji-initialization-options' plist, or an empty object."
  (or sokuji-initialization-options eglot--{}))

(cl-defmethod eglot-handle-request
  ((server eglot-sokuji) (_method (eql workspace/configuration)) &rest _)
  "Answer with `sokuji-initialization-options' where no sokuji section is set.
eglot's empty answer (no `eglot-workspace-configuration') would reset them."
  (let ((answer (cl-call-next-method)))
    (vconcat (mapcar (lambda (section)
                       (if (memq section '(nil :null)) (eglot-initialization-options server) section))
                     answer))))

(add-to-list 'eglot-server-programs
             `(,sokuji-modes . (eglot-sokuji ,@sokuji-command)))

;;; Ghost text: `sokuji-mode'

;; The suggestion is drawn after point with an overlay, from textDocument/inlineCompletion
;; asked over eglot's connection (sokuji answers it for any client). Requests are
;; asynchronous (`jsonrpc-async-request'); a change to the buffer cancels the one in flight
;; ($/cancelRequest) and drops its late answer. Keys act only while a suggestion is shown.
;; sokuji is told what was shown and taken (textDocument/didShowCompletion, a partial accept's
;; textDocument/didPartiallyAcceptCompletion, the item's accept command) for the counts of
;; `sokuji.stats' and `sokuji stats': counts only, kept by the server on this machine.

(defcustom sokuji-delay 0.1
  "Seconds of quiet after a change before sokuji is asked for a suggestion."
  :type 'number)

(defface sokuji-ghost-face '((t :inherit shadow))
  "Face of the ghost text.")

(defcustom sokuji-ghost-text t
  "Turn on `sokuji-mode' (ghost text) in buffers eglot manages with sokuji."
  :type 'boolean)

(defvar-local sokuji--inserting nil "Non-nil while sokuji inserts an accepted piece.")
(defvar-local sokuji--overlay nil)
(defvar-local sokuji--items nil "Suggestions at `sokuji--point', best first.")
(defvar-local sokuji--sources nil "The LSP items of `sokuji--items', in the same order.")
(defvar-local sokuji--announced nil "Items sokuji was told are shown (once each).")
(defvar-local sokuji--index 0)
(defvar-local sokuji--point nil)
(defvar-local sokuji--asked nil "Buffer tick at which several suggestions were asked for.")
(defvar-local sokuji--request nil "(SERVER ID) of the request in flight.")
(defvar-local sokuji--timer nil)
(defvar-local sokuji--shown nil "Non-nil while a suggestion is shown: `sokuji-active-map' is on.")
(defvar sokuji--state "starting" "The model's state: starting, loading, ready or error.")
(defvar sokuji--error nil)
(defvar sokuji--latency nil "The last suggestion's round trip, in milliseconds.")
(defvar sokuji-cancelled 0 "Requests `sokuji-mode' cancelled.")

(defvar sokuji-active-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "M-l") #'sokuji-accept)
    (define-key map (kbd "M-<right>") #'sokuji-accept-word)
    (define-key map (kbd "M-<down>") #'sokuji-accept-line)
    (define-key map (kbd "M-]") #'sokuji-next)
    (define-key map (kbd "M-[") #'sokuji-previous)
    (define-key map (kbd "C-g") #'sokuji-dismiss)
    map)
  "Keys while a suggestion is shown (and only then).")

(defvar sokuji-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "M-]") #'sokuji-next)
    map)
  "Keys of `sokuji-mode': M-] asks for suggestions where none is shown.")

(defvar sokuji--emulation `((sokuji--shown . ,sokuji-active-map)))
(add-to-list 'emulation-mode-map-alists 'sokuji--emulation)

(defun sokuji--server ()
  (let ((server (eglot-current-server)))
    (and server (cl-typep server 'eglot-sokuji) server)))

(defun sokuji--clear ()
  (when sokuji--overlay
    (delete-overlay sokuji--overlay)
    (setq sokuji--overlay nil))
  (setq sokuji--items nil sokuji--sources nil sokuji--announced nil sokuji--index 0 sokuji--shown nil))

(defun sokuji--cancel ()
  (when sokuji--timer
    (cancel-timer sokuji--timer)
    (setq sokuji--timer nil))
  (when sokuji--request
    (let ((server (car sokuji--request)) (id (cadr sokuji--request)))
      (setq sokuji--request nil)
      (cl-incf sokuji-cancelled)
      (ignore-errors (jsonrpc-notify server :$/cancelRequest `(:id ,id))))))

(defun sokuji-current ()
  "The suggestion shown, or nil."
  (and sokuji--shown (nth sokuji--index sokuji--items)))

(defun sokuji--render ()
  (let ((text (nth sokuji--index sokuji--items)))
    (if (or (null text) (string-empty-p text))
        (sokuji--clear)
      (unless sokuji--overlay
        (setq sokuji--overlay (make-overlay (point) (point) nil nil t)))
      (move-overlay sokuji--overlay sokuji--point sokuji--point)
      ;; the cursor stays before the text: a 'cursor property on its first character
      (let ((ghost (propertize text 'face 'sokuji-ghost-face)))
        (put-text-property 0 1 'cursor t ghost)
        (overlay-put sokuji--overlay 'after-string ghost))
      (overlay-put sokuji--overlay 'sokuji t)
      (setq sokuji--shown t)
      (let ((item (nth sokuji--index sokuji--sources)))
        ;; only an item with a command (the first) is followed by sokuji: the others it doesn't know
        (when (and (plist-get item :command) (not (memq item sokuji--announced)))
          (push item sokuji--announced)
          (sokuji--notify :textDocument/didShowCompletion `(:item ,item)))))))

(defun sokuji--notify (method params)
  (let ((server (sokuji--server)))
    (when server (ignore-errors (jsonrpc-notify server method params)))))

(defun sokuji--text (item)
  (let ((text (plist-get item :insertText)))
    (if (stringp text) text (plist-get text :value))))

(defun sokuji--units (text)
  "TEXT's length in the position encoding eglot negotiated.
UTF-16 unless the server chose another (eglot 1.12+ offers UTF-32 and UTF-8)."
  (pcase (ignore-errors (if (fboundp 'eglot-server-capable)
                            (eglot-server-capable :positionEncoding)
                          (eglot--server-capable :positionEncoding)))
    ("utf-32" (length text))
    ("utf-8" (length (encode-coding-string text 'utf-8 t)))
    (_ (+ (length text) (cl-count-if (lambda (c) (> c #xFFFF)) text)))))

(defun sokuji--report (item rest)
  "Tell sokuji that ITEM was taken up to REST, the part of it still shown.
Whole: its command, asynchronously (typing never waits); in part: the length
taken so far."
  (let ((server (sokuji--server)) (command (plist-get item :command)))
    (when (and server command)
      ;; the inserted text first: the server then predicts the next suggestion from after it
      (eglot--signal-textDocument/didChange)
      (if (string-empty-p rest)
          (jsonrpc-async-request server :workspace/executeCommand
                                 `(:command ,(plist-get command :command)
                                   :arguments ,(or (plist-get command :arguments) []))
                                 :success-fn #'ignore :error-fn #'ignore :timeout-fn #'ignore)
        (sokuji--notify :textDocument/didPartiallyAcceptCompletion
                        `(:item ,item :acceptedLength ,(- (sokuji--units (sokuji--text item))
                                                          (sokuji--units rest))))))))

(defun sokuji--remaining (item)
  "ITEM's text less what was typed since its range's start.
Nil if it no longer fits."
  (let* ((text (sokuji--text item))
         (range (plist-get item :range)))
    (if (null range)
        text
      (let* ((start (save-excursion (eglot--lsp-position-to-point (plist-get range :start))))
             (typed (buffer-substring-no-properties (min start (point)) (point))))
        (and (<= start (point)) (string-prefix-p typed text) (substring text (length typed)))))))

(defun sokuji-request (&optional invoked then-index)
  "Ask sokuji for suggestions at point.
INVOKED: the user asked (several, to cycle); THEN-INDEX: the one to show."
  (let ((server (sokuji--server))
        (buffer (current-buffer))
        (tick (buffer-chars-modified-tick))
        (pos (point))
        (started (float-time)))
    (when server
      (sokuji--cancel)
      (eglot--signal-textDocument/didChange)  ; the server sees the text we ask about
      (let ((id nil))
        (setq id
              (car (jsonrpc-async-request
                    server :textDocument/inlineCompletion
                    (append (eglot--TextDocumentPositionParams)
                            `(:context (:triggerKind ,(if invoked 1 2))))
                    :success-fn
                    (lambda (result)
                      (setq sokuji--latency (round (* 1000 (- (float-time) started))))
                      (when (buffer-live-p buffer)
                        (with-current-buffer buffer
                          (when (equal (cadr sokuji--request) id)
                            (setq sokuji--request nil))
                          (when (and (= tick (buffer-chars-modified-tick)) (= pos (point)))
                            (let ((items (if (vectorp result) result (plist-get result :items)))
                                  (pairs nil))  ; (text . item), a text once
                              (mapc (lambda (it)
                                      (let ((s (sokuji--remaining it)))
                                        (and s (not (string-empty-p s)) (not (assoc s pairs))
                                             (push (cons s it) pairs))))
                                    items)
                              (setq pairs (nreverse pairs))
                              (sokuji--clear)
                              (when pairs
                                (setq sokuji--items (mapcar #'car pairs)
                                      sokuji--sources (mapcar #'cdr pairs)
                                      sokuji--point pos
                                      sokuji--index (mod (or then-index 0) (length pairs)))
                                (when invoked (setq sokuji--asked tick))
                                (sokuji--render)))))))
                    :error-fn
                    (lambda (&rest _)
                      (when (buffer-live-p buffer)
                        (with-current-buffer buffer
                          (when (equal (cadr sokuji--request) id)
                            (setq sokuji--request nil)))))
                    :timeout-fn #'ignore
                    :timeout 600)))
        (setq sokuji--request (list server id))))))

(defun sokuji--after-change (&rest _)
  (unless sokuji--inserting
    (sokuji--cancel)
    (sokuji--clear)
    (let ((buffer (current-buffer)))
      (setq sokuji--timer
            (run-with-timer sokuji-delay nil
                            (lambda ()
                              (when (buffer-live-p buffer)
                                (with-current-buffer buffer
                                  (setq sokuji--timer nil)
                                  (when (eq buffer (window-buffer (selected-window)))
                                    (sokuji-request))))))))))


(defun sokuji--post-command ()
  "Point moved away from the suggestion (or another command ran): it goes."
  (when (and sokuji--shown (not (eql (point) sokuji--point)))
    (sokuji--cancel)
    (sokuji--clear)))

(defun sokuji--insert (piece)
  "Insert PIECE, the start of the suggestion shown; the rest stays shown."
  (let* ((text (sokuji-current))
         (rest (substring text (length piece)))
         (item (nth sokuji--index sokuji--sources)))
    (let ((sokuji--inserting t))
      (goto-char sokuji--point)
      (insert piece))
    (setq sokuji--point (point)
          sokuji--items (list rest)
          sokuji--sources (list item)
          sokuji--index 0)
    (sokuji--report item rest)
    (if (string-empty-p rest) (sokuji--clear) (sokuji--render))))

(defun sokuji-accept ()
  "Insert the whole suggestion."
  (interactive)
  (when (sokuji-current) (sokuji--cancel) (sokuji--insert (sokuji-current))))

(defun sokuji-accept-word ()
  "Insert the suggestion's next word."
  (interactive)
  (let ((text (sokuji-current)))
    (when text
      (sokuji--cancel)
      (sokuji--insert
       (if (string-match "\\`\\(?:[ \t]*[[:alnum:]_]+\\|[ \t]*[^[:alnum:]_ \t\n]+\\|\n[ \t]*\\)" text)
           (match-string 0 text)
         text)))))

(defun sokuji-accept-line ()
  "Insert the suggestion up to the end of its line.
At a line break, the next line."
  (interactive)
  (let ((text (sokuji-current)))
    (when text
      (sokuji--cancel)
      (string-match "\\`\n?[^\n]*" text)
      (sokuji--insert (match-string 0 text)))))

(defun sokuji--cycle (step)
  (if (and sokuji--shown (eql sokuji--asked (buffer-chars-modified-tick)) (cdr sokuji--items))
      (progn (setq sokuji--index (mod (+ sokuji--index step) (length sokuji--items)))
             (sokuji--render))
    (sokuji-request t (if (> step 0) 1 -1))))

(defun sokuji-next ()
  "Show the next suggestion (asking sokuji for several the first time)."
  (interactive)
  (sokuji--cycle 1))

(defun sokuji-previous ()
  "Show the previous suggestion."
  (interactive)
  (sokuji--cycle -1))

(defun sokuji-dismiss ()
  "Hide the suggestion."
  (interactive)
  (sokuji--cancel)
  (sokuji--clear))

(defun sokuji--poll-status ()
  "Ask sokuji.stats for the model's state until it is ready or failed."
  (let ((server (sokuji--server)) (buffer (current-buffer)))
    (when (and server (member sokuji--state '("starting" "loading")))
      (setq sokuji--state "loading")
      (jsonrpc-async-request
       server :workspace/executeCommand '(:command "sokuji.stats" :arguments [])
       :success-fn (lambda (stats)
                     (let ((err (plist-get stats :modelError)))
                       (cond ((and err (not (eq err :null)) (stringp err))
                              (setq sokuji--state "error" sokuji--error err))
                             ((eq (plist-get stats :modelReady) t)
                              (setq sokuji--state "ready"))
                             (t (run-with-timer 0.5 nil #'sokuji--poll-status-in buffer)))
                       (force-mode-line-update t)))
       :error-fn #'ignore :timeout-fn #'ignore))))

(defun sokuji--poll-status-in (buffer)
  (when (buffer-live-p buffer)
    (with-current-buffer buffer (sokuji--poll-status))))

(defun sokuji-status ()
  "The model's state, for the mode line.
\"sokuji: loading\", \"sokuji: ready 120 ms\" or \"sokuji: error: ...\"."
  (pcase sokuji--state
    ("ready" (if sokuji--latency (format "sokuji: ready %d ms" sokuji--latency) "sokuji: ready"))
    ("error" (format "sokuji: error: %s" sokuji--error))
    (state (format "sokuji: %s" state))))

;;;###autoload
(define-minor-mode sokuji-mode
  "Ghost text from sokuji as you type, in a buffer eglot manages with sokuji.
\\{sokuji-active-map}"
  :lighter (:eval (concat " " (sokuji-status)))
  :keymap sokuji-mode-map
  (if sokuji-mode
      (progn
        (add-hook 'after-change-functions #'sokuji--after-change nil t)
        (add-hook 'post-command-hook #'sokuji--post-command nil t)
        (sokuji--poll-status))
    (remove-hook 'after-change-functions #'sokuji--after-change t)
    (remove-hook 'post-command-hook #'sokuji--post-command t)
    (sokuji--cancel)
    (sokuji--clear)))

(defun sokuji--maybe-enable ()
  "With eglot managing a buffer for sokuji, turn on `sokuji-mode' (unless
`sokuji-ghost-text' is nil)."
  (when (and sokuji-ghost-text (sokuji--server))
    (sokuji-mode (if (eglot-managed-p) 1 -1))))

(add-hook 'eglot-managed-mode-hook #'sokuji--maybe-enable)

(provide 'sokuji)

;; next edits (sokuji-next-edit.el): proposals of the edit that follows the user's last one
(require 'sokuji-next-edit)
;;; sokuji.el ends here
