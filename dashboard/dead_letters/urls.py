"""Dead letters awaiting, retried and acknowledged; retry and acknowledge with a note."""

from django.urls import path

from dashboard.dead_letters import views

urlpatterns = [
    path("", views.index, name="dead_letters"),
    path("act/", views.act_selected, name="dead_letters_act"),
    path("<int:letter_id>/<slug:action>/", views.act_one, name="dead_letter_act"),
]
