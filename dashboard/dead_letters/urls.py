from django.urls import path

from dashboard.dead_letters import views

urlpatterns = [
    path("", views.index, name="dead_letters"),
]
