;;; sokuji-next-edit.el --- Next edits from sokuji, shown where they go  -*- lexical-binding: t; -*-

;; Loaded by sokuji.el: `(require 'sokuji)' turns it on (`sokuji-next-edit' nil: off).
;;
;; After an edit pauses, sokuji is asked for the edits it implies (textDocument/copilotInlineEdit
;; over eglot's connection: a rename typed at a definition -> the same rename at the other
;; references). The nearest is drawn where it goes: the text it replaces in
;; `sokuji-next-edit-delete-face', the new text after it in `sokuji-next-edit-face' (below it
;; when it has several lines); off screen, a line at the window's top or bottom edge says
;; where ("↓ next edit: line 42"). While one is shown `sokuji-next-edit-map' is on: M-n jumps
;; to it, M-n at it applies it (then the next of the series shows), C-g dismisses it.
;; Other keys: (define-key sokuji-next-edit-map (kbd "TAB") #'sokuji-next-edit-jump-or-apply).

;;; Code:

(require 'cl-lib)
(require 'diff-mode)  ; the faces inherit its colours
(require 'sokuji)

(defcustom sokuji-next-edit t
  "Turn on `sokuji-next-edit-mode' (next edits) in buffers eglot manages with sokuji."
  :type 'boolean
  :group 'sokuji)

(defcustom sokuji-next-edit-delay 0.4
  "Seconds of quiet after a change before sokuji is asked for next edits."
  :type 'number
  :group 'sokuji)

(defface sokuji-next-edit-delete-face '((t :inherit diff-removed :strike-through t))
  "Face of the text a next edit replaces."
  :group 'sokuji)

(defface sokuji-next-edit-face '((t :inherit diff-added))
  "Face of a next edit's new text, and of the marker at the window's edge."
  :group 'sokuji)

(defvar-local sokuji-next-edit--items nil "The proposals shown and to come, nearest first.")
(defvar-local sokuji-next-edit--overlay nil "The proposal drawn: its range.")
(defvar-local sokuji-next-edit--edge nil "The marker at the window's edge, when off screen.")
(defvar-local sokuji-next-edit--request nil "(SERVER ID) of the request in flight.")
(defvar-local sokuji-next-edit--timer nil)
(defvar-local sokuji-next-edit--applying nil "Non-nil while a proposal is applied.")
(defvar-local sokuji-next-edit--shown nil
  "Non-nil while a proposal is shown: `sokuji-next-edit-map' is on.")

(defvar sokuji-next-edit-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "M-n") #'sokuji-next-edit-jump-or-apply)
    (define-key map (kbd "C-g") #'sokuji-next-edit-dismiss)
    map)
  "Keys while a next edit is shown (and only then).
Ghost text wins: a key also bound in `sokuji-active-map' acts on the ghost text while
that is shown.")

;; Ghost text wins: this map is appended to the ghost text's own emulation alist, after
;; `sokuji-active-map', so a key bound in both (C-g, or a user's TAB) acts on the ghost text
;; while it is shown (it is at the cursor, what the user is typing), on the next edit when
;; only that is shown, and as before when neither is.
(add-to-list 'sokuji--emulation `(sokuji-next-edit--shown . ,sokuji-next-edit-map) t)

(defun sokuji-next-edit--version ()
  "The buffer's version as eglot last told the server."
  (plist-get (eglot--VersionedTextDocumentIdentifier) :version))

(defun sokuji-next-edit--erase ()
  "Delete what is drawn; the proposals stay."
  (dolist (ov (list sokuji-next-edit--overlay sokuji-next-edit--edge))
    (when ov (delete-overlay ov)))
  (setq sokuji-next-edit--overlay nil sokuji-next-edit--edge nil sokuji-next-edit--shown nil))

(defun sokuji-next-edit--clear ()
  (sokuji-next-edit--erase)
  (setq sokuji-next-edit--items nil))

(defun sokuji-next-edit--cancel ()
  (when sokuji-next-edit--timer
    (cancel-timer sokuji-next-edit--timer)
    (setq sokuji-next-edit--timer nil))
  (when sokuji-next-edit--request
    (pcase-let ((`(,server ,id) sokuji-next-edit--request))
      (setq sokuji-next-edit--request nil)
      (ignore-errors (jsonrpc-notify server :$/cancelRequest `(:id ,id))))))

(defun sokuji-next-edit--drawn (text)
  "TEXT as drawn after the range it replaces: on lines of its own when it has several."
  (unless (string-empty-p text)
    (propertize (if (string-search "\n" text) (concat "\n" text) text)
                'face 'sokuji-next-edit-face)))

(defun sokuji-next-edit--render ()
  "Draw the nearest proposal: its range marked, its text after it."
  (sokuji-next-edit--erase)
  (let ((item (car sokuji-next-edit--items)))
    (when item
      (pcase-let* ((`(,beg . ,end) (eglot--range-region (plist-get item :range)))
                   (ov (make-overlay beg end nil t nil)))
        (overlay-put ov 'face 'sokuji-next-edit-delete-face)
        (overlay-put ov 'after-string (sokuji-next-edit--drawn (plist-get item :text)))
        (overlay-put ov 'priority 100)
        (overlay-put ov 'sokuji-next-edit 'proposal)
        (setq sokuji-next-edit--overlay ov sokuji-next-edit--shown t)
        (sokuji-next-edit--mark-edge)))))

(defun sokuji-next-edit--visible-end (window start)
  "Where WINDOW's text ends when it starts at START: the start of the first line not shown.
The smaller of redisplay's answer and a count of the window's lines (batch Emacs has no
redisplay: its `window-end' is the buffer's end)."
  (min (or (ignore-errors (window-end window t)) (point-max))
       (save-excursion
         (goto-char start)
         (forward-line (window-body-height window))
         (point))))

(defun sokuji-next-edit--mark-edge (&optional window start)
  "A marker at WINDOW's top or bottom line when the proposal's line is off screen.
START: WINDOW's new start (from `window-scroll-functions')."
  (when sokuji-next-edit--edge
    (delete-overlay sokuji-next-edit--edge)
    (setq sokuji-next-edit--edge nil))
  (let ((window (or window (get-buffer-window (current-buffer))))
        (ov sokuji-next-edit--overlay))
    (when (and window ov (overlay-buffer ov))
      (let* ((start (or start (window-start window)))
             (end (sokuji-next-edit--visible-end window start))
             (at (overlay-start ov))
             (below (and (>= at end) (< end (point-max)))))
        (when (or below (< at start))
          (sokuji-next-edit--draw-edge
           window (save-excursion (goto-char (if below (max start (1- end)) start))
                                  (line-end-position))
           (format "  %s next edit: line %d" (if below "↓" "↑") (line-number-at-pos at t))))))))

(defun sokuji-next-edit--draw-edge (window pos text)
  "TEXT at POS (a line's end) in WINDOW only."
  (let ((ov (make-overlay pos pos)))
    (overlay-put ov 'after-string (propertize text 'face 'sokuji-next-edit-face))
    (overlay-put ov 'window window)
    (overlay-put ov 'sokuji-next-edit 'edge)
    (setq sokuji-next-edit--edge ov)))

(defun sokuji-next-edit--answer (buffer id tick result)
  "RESULT of request ID, asked at TICK in BUFFER: shown unless BUFFER changed since.
Proposals for another version of the buffer than eglot's are stale: dropped."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (when (equal (cadr sokuji-next-edit--request) id)
        (setq sokuji-next-edit--request nil)
        (when (= tick (buffer-chars-modified-tick))
          (let ((version (sokuji-next-edit--version))
                (uri (plist-get (eglot--TextDocumentIdentifier) :uri)))
            (setq sokuji-next-edit--items
                  (cl-remove-if-not
                   (lambda (item)
                     (let ((doc (plist-get item :textDocument)))
                       (and (equal (plist-get doc :version) version)
                            (equal (plist-get doc :uri) uri)
                            (stringp (plist-get item :text)))))
                   (append (plist-get result :edits) nil)))
            (sokuji-next-edit--render)))))))

(defun sokuji-next-edit--settle (buffer id)
  "Request ID failed or was cancelled: no longer in flight."
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (when (equal (cadr sokuji-next-edit--request) id)
        (setq sokuji-next-edit--request nil)))))

(defun sokuji-next-edit-request ()
  "Ask sokuji for next edits at point, asynchronously; the nearest is shown."
  (interactive)
  (let ((server (sokuji--server)) (buffer (current-buffer)) (tick (buffer-chars-modified-tick)))
    (when server
      (sokuji-next-edit--cancel)
      (eglot--signal-textDocument/didChange)  ; the server sees the text we ask about
      (let ((params (eglot--TextDocumentPositionParams)) (id nil))
        (setq params (plist-put params :textDocument (eglot--VersionedTextDocumentIdentifier)))
        (setq id (car (jsonrpc-async-request
                       server :textDocument/copilotInlineEdit params
                       :success-fn
                       (lambda (result) (sokuji-next-edit--answer buffer id tick result))
                       :error-fn (lambda (&rest _) (sokuji-next-edit--settle buffer id))
                       :timeout-fn (lambda () (sokuji-next-edit--settle buffer id))
                       :timeout 120)))
        (setq sokuji-next-edit--request (list server id))))))

(defun sokuji-next-edit--after-change (&rest _)
  "The user edited: what is shown goes, and after a pause sokuji is asked again."
  (unless sokuji-next-edit--applying
    (sokuji-next-edit--cancel)
    (sokuji-next-edit--clear)
    (let ((buffer (current-buffer)))
      (setq sokuji-next-edit--timer
            (run-with-timer sokuji-next-edit-delay nil
                            (lambda ()
                              (when (buffer-live-p buffer)
                                (with-current-buffer buffer
                                  (setq sokuji-next-edit--timer nil)
                                  (when (eq buffer (window-buffer (selected-window)))
                                    (sokuji-next-edit-request))))))))))

(defun sokuji-next-edit--post-command ()
  "Point or the window may have moved: the edge marker follows."
  (when sokuji-next-edit--overlay (sokuji-next-edit--mark-edge)))

(defun sokuji-next-edit--scrolled (window start)
  (when (and sokuji-next-edit--overlay (eq (window-buffer window) (current-buffer)))
    (sokuji-next-edit--mark-edge window start)))

(defun sokuji-next-edit--run-command (item)
  "Run ITEM's command (sokuji.nextEditAccepted: sokuji counts it), asynchronously."
  (let ((server (sokuji--server)) (command (plist-get item :command)))
    (when (and server command)
      (eglot--signal-textDocument/didChange)  ; the applied text first
      (jsonrpc-async-request server :workspace/executeCommand
                             `(:command ,(plist-get command :command)
                               :arguments ,(or (plist-get command :arguments) []))
                             :success-fn #'ignore :error-fn #'ignore :timeout-fn #'ignore))))

(defun sokuji-next-edit-apply ()
  "Apply the next edit shown, then ask at once for the next of its series."
  (interactive)
  (let ((ov sokuji-next-edit--overlay) (item (car sokuji-next-edit--items)))
    (when ov
      (let ((beg (overlay-start ov)) (end (overlay-end ov)))
        (sokuji-next-edit--cancel)
        (sokuji-next-edit--clear)
        (let ((sokuji-next-edit--applying t))
          (goto-char beg)
          (delete-region beg end)
          (insert (plist-get item :text)))
        (sokuji-next-edit--run-command item)
        (sokuji-next-edit-request)))))

(defun sokuji-next-edit-jump-or-apply ()
  "Jump to the next edit shown; with point at it (in its range), apply it.
Bound to M-n in `sokuji-next-edit-map'. Ghost text wins: a key bound in both this map and
`sokuji-active-map' takes the ghost text while one is shown."
  (interactive)
  (let ((ov sokuji-next-edit--overlay))
    (when ov
      (if (<= (overlay-start ov) (point) (overlay-end ov))
          (sokuji-next-edit-apply)
        (push-mark nil t)
        (goto-char (overlay-start ov))))))

(defun sokuji-next-edit-dismiss ()
  "Hide the next edit; it stays hidden until the next edit of the buffer."
  (interactive)
  (sokuji-next-edit--cancel)
  (sokuji-next-edit--clear))

;;;###autoload
(define-minor-mode sokuji-next-edit-mode
  "Next edits from sokuji, drawn where they go, in a buffer eglot manages with sokuji.
While one is shown:
\\{sokuji-next-edit-map}"
  :lighter nil
  (if sokuji-next-edit-mode
      (progn
        (add-hook 'after-change-functions #'sokuji-next-edit--after-change nil t)
        (add-hook 'post-command-hook #'sokuji-next-edit--post-command nil t)
        (add-hook 'window-scroll-functions #'sokuji-next-edit--scrolled nil t))
    (remove-hook 'after-change-functions #'sokuji-next-edit--after-change t)
    (remove-hook 'post-command-hook #'sokuji-next-edit--post-command t)
    (remove-hook 'window-scroll-functions #'sokuji-next-edit--scrolled t)
    (sokuji-next-edit--cancel)
    (sokuji-next-edit--clear)))

(defun sokuji-next-edit--maybe-enable ()
  "With eglot managing a buffer for sokuji, turn on `sokuji-next-edit-mode' (unless
`sokuji-next-edit' is nil)."
  (cond ((and sokuji-next-edit (eglot-managed-p) (sokuji--server)) (sokuji-next-edit-mode 1))
        (sokuji-next-edit-mode (sokuji-next-edit-mode -1))))

(add-hook 'eglot-managed-mode-hook #'sokuji-next-edit--maybe-enable)

(provide 'sokuji-next-edit)
;;; sokuji-next-edit.el ends here
